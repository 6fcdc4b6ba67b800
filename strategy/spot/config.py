"""The spot executor's settings, from the environment (EXECUTION=binance-spot).

Spot testnet (https://testnet.binance.vision) by default; production (https://api.binance.com)
only with ``BINANCE_LIVE=1``, under the futures executor's rules (strategy/binance/config.py
``trade_url``: https only except to loopback, production hosts only when live, demo/testnet hosts
only when not, no other host). Spot testnet keys are not the futures demo's: they are
``BINANCE_SPOT_API_KEY``/``BINANCE_SPOT_API_SECRET``, read here only and never shown.

Per pair (seed 003's CurrencyPair): ``SPOT_PAIRS=BTCUSDT:50:2,ETHUSDT:20:1`` gives a pair its
deal quota (quote amount) and its max open deals; pairs not listed take ``SPOT_DEAL_QUOTA``
(default: the risk manager's size for the signal) and ``SPOT_MAX_DEALS`` (1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from settings import SettingsError
from strategy.binance.config import (
    ENVIRONMENTS,
    _integer,
    _seconds,
    _text,
    host_environment,
    live_flag,
    trade_url,
)

TESTNET_REST_URL = "https://testnet.binance.vision"
LIVE_REST_URL = "https://api.binance.com"


@dataclass(frozen=True)
class SpotConfig:
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    live: bool = False
    rest_url: str = TESTNET_REST_URL
    order_lifetime: float = 60.0  # s a BUY may rest before it is cancelled and re-placed
    buy_attempts: int = 3  # BUYs in all (the first and its re-placements)
    deal_quota: float | None = None  # quote per deal; None: the risk manager's size
    max_deals: int = 1  # open deals per pair
    pairs: dict[str, tuple[float, int]] = field(default_factory=dict)  # symbol -> (quota, max)
    poll_interval: float = 1.0  # s between looks at the open deals' orders
    entry_max_age: float = 10.0  # s an accepted signal missed by a restart is still taken
    recv_window: int = 5000
    request_timeout: float = 10.0

    @property
    def environment(self) -> str:
        host = urlsplit(self.rest_url).hostname or ""
        return ENVIRONMENTS.get(host_environment(host), f"unknown host {host}")

    def limits(self, symbol: str) -> tuple[float | None, int]:
        """(deal quota, max open deals) of ``symbol``."""
        return self.pairs.get(symbol, (self.deal_quota, self.max_deals))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SpotConfig:
        env = os.environ if env is None else env
        for name in ("BINANCE_SPOT_API_KEY", "BINANCE_SPOT_API_SECRET"):
            if not _text(env, name):
                raise SettingsError(f"{name} is required to trade spot (EXECUTION=binance-spot)")
        live = live_flag(env)
        quota = _text(env, "SPOT_DEAL_QUOTA")
        return cls(
            api_key=_text(env, "BINANCE_SPOT_API_KEY"),
            api_secret=_text(env, "BINANCE_SPOT_API_SECRET"),
            live=live,
            rest_url=trade_url(
                env, "BINANCE_SPOT_TRADE_REST_URL", live, LIVE_REST_URL, TESTNET_REST_URL
            ),
            order_lifetime=_seconds(env, "SPOT_ORDER_LIFETIME", 60.0),
            buy_attempts=_integer(env, "SPOT_BUY_ATTEMPTS", 3, 1, 20),
            deal_quota=_amount("SPOT_DEAL_QUOTA", quota) if quota else None,
            max_deals=_integer(env, "SPOT_MAX_DEALS", 1, 1, 100),
            pairs=_pairs(_text(env, "SPOT_PAIRS")),
            poll_interval=_seconds(env, "SPOT_POLL_INTERVAL", 1.0),
            entry_max_age=_seconds(env, "ENTRY_MAX_AGE", 10.0),
        )


def _amount(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SettingsError(f"{name} must be a positive quote amount, got {raw!r}")
    return value


def _pairs(raw: str) -> dict[str, tuple[float, int]]:
    """``SYMBOL:QUOTA:MAX_DEALS`` items, comma separated."""
    pairs = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        parts = item.split(":")
        if len(parts) != 3 or not parts[0].isalnum() or not parts[2].isdigit():
            raise SettingsError(f"SPOT_PAIRS items are SYMBOL:QUOTA:MAX_DEALS, got {item!r}")
        pairs[parts[0].upper()] = (_amount("SPOT_PAIRS quota", parts[1]), int(parts[2]))
    return pairs
