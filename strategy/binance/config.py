"""The Binance executor's settings, from the environment.

Demo trading is the default; production needs ``BINANCE_LIVE=1`` (and the executor logs a loud
line when it starts live). The keys are read here and nowhere else, are never part of ``repr``,
and are never logged or stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from settings import SettingsError, parse_duration

# Reference §D.1: demo REST is demo-fapi.binance.com, its streams fstream.binancefuture.com.
DEMO_REST_URL = "https://demo-fapi.binance.com"
DEMO_WS_URL = "wss://fstream.binancefuture.com"
LIVE_REST_URL = "https://fapi.binance.com"
LIVE_WS_URL = "wss://fstream.binance.com"
ENTRY_TYPES = ("MARKET", "LIMIT")
MARGIN_TYPES = ("ISOLATED", "CROSSED")


@dataclass(frozen=True)
class BinanceConfig:
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    live: bool = False
    rest_url: str = DEMO_REST_URL
    ws_url: str = DEMO_WS_URL
    leverage: int = 5
    margin_type: str = "ISOLATED"
    entry_type: str = "MARKET"
    limit_entry_timeout: float = 30.0  # s a LIMIT entry may rest before it is cancelled
    # s after its commit an accepted signal the worker never handed over (it stopped in between)
    # is still entered at start; an older one is recorded as missed
    entry_max_age: float = 10.0
    stale_flatten_after: float = (
        30.0  # s without recorded trades before an open symbol is flattened
    )
    stale_check_interval: float = 2.0
    keepalive_interval: float = 40 * 60.0  # listen key keepalive (Binance: every 30–50 min)
    recv_window: int = 5000
    request_timeout: float = 10.0
    order_prefix: str = "fl-"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BinanceConfig:
        env = os.environ if env is None else env
        key, secret = _text(env, "BINANCE_API_KEY"), _text(env, "BINANCE_API_SECRET")
        if not key:
            raise SettingsError(
                "BINANCE_API_KEY is required to trade on Binance (EXECUTION=binance, flatten)"
            )
        if not secret:
            raise SettingsError(
                "BINANCE_API_SECRET is required to trade on Binance (EXECUTION=binance, flatten)"
            )
        live = _text(env, "BINANCE_LIVE", "0")
        if live not in ("0", "1"):
            raise SettingsError(f"BINANCE_LIVE must be 0 or 1, got {live!r}")
        is_live = live == "1"
        return cls(
            api_key=key,
            api_secret=secret,
            live=is_live,
            rest_url=_url(
                env, "BINANCE_TRADE_REST_URL", LIVE_REST_URL if is_live else DEMO_REST_URL
            ),
            ws_url=_url(env, "BINANCE_TRADE_WS_URL", LIVE_WS_URL if is_live else DEMO_WS_URL),
            leverage=_integer(env, "LEVERAGE", 5, 1, 125),
            margin_type=_choice(env, "MARGIN_TYPE", "ISOLATED", MARGIN_TYPES),
            entry_type=_choice(env, "ENTRY_TYPE", "MARKET", ENTRY_TYPES),
            limit_entry_timeout=_seconds(env, "LIMIT_ENTRY_TIMEOUT", 30.0),
            entry_max_age=_seconds(env, "ENTRY_MAX_AGE", 10.0),
            stale_flatten_after=_seconds(env, "STALE_FLATTEN_AFTER", 30.0),
            keepalive_interval=_seconds(env, "BINANCE_KEEPALIVE_INTERVAL", 40 * 60.0),
        )


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or default).strip()


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = _text(env, name, default).rstrip("/")
    if not value.startswith(("http://", "https://", "ws://", "wss://")):
        raise SettingsError(f"{name} must be an http(s):// or ws(s):// URL, got {value!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = _text(env, name, str(default))
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise SettingsError(f"{name} must be an integer between {lo} and {hi}, got {raw!r}")
    return int(raw)


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _text(env, name, default).upper()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A plain number of seconds or a duration like 500ms, 30s, 15m."""
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return parse_duration(name, raw)
    if value <= 0:
        raise SettingsError(f"{name} must be > 0, got {raw!r}")
    return value
