"""The Binance executor's settings, from the environment.

Demo trading is the default; production needs ``BINANCE_LIVE=1`` (and the executor logs a loud
line when it starts live). The hosts decide, not the flag alone: a production Binance host is
refused without ``BINANCE_LIVE=1``, a demo/testnet host with it, anything else except loopback (the
simulator) always; ``BINANCE_TRADE_REST_URL`` and ``BINANCE_TRADE_WS_URL`` are given together and
must name the same environment; plain http/ws only to loopback, since the key would travel in
clear. The keys are read here and nowhere else, are never part of ``repr``, and are never logged
or stored.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from settings import SettingsError, parse_duration

# Reference §D.1: demo REST is demo-fapi.binance.com, its streams fstream.binancefuture.com.
DEMO_REST_URL = "https://demo-fapi.binance.com"
DEMO_WS_URL = "wss://fstream.binancefuture.com"
LIVE_REST_URL = "https://fapi.binance.com"
LIVE_WS_URL = "wss://fstream.binance.com"
# Production hosts are Binance's own domain; the demo/testnet ones are listed (reference §D.1).
LIVE_DOMAIN = "binance.com"
DEMO_HOSTS = frozenset(
    {
        "demo-fapi.binance.com",
        "testnet.binancefuture.com",
        "fstream.binancefuture.com",
        "stream.binancefuture.com",
        "testnet.binance.vision",
    }
)  # fmt: skip  (testnet.binance.vision: spot's testnet, strategy/spot/)
ENVIRONMENTS = {"live": "LIVE", "demo": "demo/testnet", "local": "local (loopback: simulator)"}
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
    limit_entry_replaces: int = 0  # ... and re-placed at the best bid/ask this many times first
    # s after its commit an accepted signal the worker never handed over (it stopped in between)
    # is still entered at start; an older one is recorded as missed
    entry_max_age: float = 10.0
    stale_flatten_after: float = (
        30.0  # s an open symbol's recorded streams (mark price, depth) may be silent
    )
    stale_check_interval: float = 2.0
    keepalive_interval: float = 40 * 60.0  # listen key keepalive (Binance: every 30–50 min)
    recv_window: int = 5000
    request_timeout: float = 10.0
    order_prefix: str = "fl-"

    @property
    def environment(self) -> str:
        """Where orders really go, judged from the REST host: LIVE, demo/testnet or local."""
        host = urlsplit(self.rest_url).hostname or ""
        return ENVIRONMENTS.get(host_environment(host), f"unknown host {host}")

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
        is_live = live_flag(env)
        rest_url, ws_url = _endpoints(env, is_live)
        return cls(
            api_key=key,
            api_secret=secret,
            live=is_live,
            rest_url=rest_url,
            ws_url=ws_url,
            leverage=_integer(env, "LEVERAGE", 5, 1, 125),
            margin_type=_choice(env, "MARGIN_TYPE", "ISOLATED", MARGIN_TYPES),
            entry_type=_choice(env, "ENTRY_TYPE", "MARKET", ENTRY_TYPES),
            limit_entry_timeout=_seconds(env, "LIMIT_ENTRY_TIMEOUT", 30.0),
            limit_entry_replaces=_integer(env, "LIMIT_ENTRY_REPLACES", 0, 0, 9),
            entry_max_age=_seconds(env, "ENTRY_MAX_AGE", 10.0),
            stale_flatten_after=_seconds(env, "STALE_FLATTEN_AFTER", 30.0),
            keepalive_interval=_seconds(env, "BINANCE_KEEPALIVE_INTERVAL", 40 * 60.0),
        )


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or default).strip()


def host_environment(host: str) -> str:
    """'live' (production Binance), 'demo' (demo/testnet), 'local' (loopback) or 'other'."""
    host = host.lower().rstrip(".")
    if host in DEMO_HOSTS:
        return "demo"
    if host == LIVE_DOMAIN or host.endswith("." + LIVE_DOMAIN):
        return "live"
    if host == "localhost":
        return "local"
    try:
        return "local" if ipaddress.ip_address(host).is_loopback else "other"
    except ValueError:
        return "other"


def live_flag(env: Mapping[str, str]) -> bool:
    """``BINANCE_LIVE``: 1 trades with real money, 0 (the default) on demo/testnet hosts."""
    live = _text(env, "BINANCE_LIVE", "0")
    if live not in ("0", "1"):
        raise SettingsError(f"BINANCE_LIVE must be 0 or 1, got {live!r}")
    return live == "1"


def trade_url(env: Mapping[str, str], name: str, live: bool, live_url: str, demo_url: str) -> str:
    """One REST trading base URL from ``name`` (else ``live_url``/``demo_url`` by ``live``),
    under the same rules as the futures endpoints: https (http only to loopback), a production
    host only with BINANCE_LIVE=1, a demo/testnet host only without it, nothing else."""
    url = _url(env, name, live_url if live else demo_url, ("https", "http"))
    _check_environment(name, url, live, demo_url)
    return url


def _endpoints(env: Mapping[str, str], live: bool) -> tuple[str, str]:
    rest_name, ws_name = "BINANCE_TRADE_REST_URL", "BINANCE_TRADE_WS_URL"
    if bool(_text(env, rest_name)) != bool(_text(env, ws_name)):
        raise SettingsError(
            f"{rest_name} and {ws_name} go together (both or neither), so orders and the "
            "user-data stream cannot point at different environments"
        )
    rest = _url(env, rest_name, LIVE_REST_URL if live else DEMO_REST_URL, ("https", "http"))
    ws = _url(env, ws_name, LIVE_WS_URL if live else DEMO_WS_URL, ("wss", "ws"))
    rest_env, ws_env = (host_environment(urlsplit(u).hostname or "") for u in (rest, ws))
    if rest_env != ws_env:
        raise SettingsError(
            f"{rest_name} ({ENVIRONMENTS.get(rest_env, 'unknown host')}) and {ws_name} "
            f"({ENVIRONMENTS.get(ws_env, 'unknown host')}) must name the same environment"
        )
    _check_environment(rest_name, rest, live, DEMO_REST_URL)
    return rest, ws


def _check_environment(name: str, url: str, live: bool, demo_url: str) -> None:
    """Real money only with BINANCE_LIVE=1 and only there; unknown hosts never."""
    host = urlsplit(url).hostname
    where = host_environment(host or "")
    if live and where != "live":
        raise SettingsError(
            f"BINANCE_LIVE=1 trades on production Binance hosts (*.{LIVE_DOMAIN}) only; "
            f"{name} points at {host!r}"
        )
    if not live and where == "live":
        raise SettingsError(
            f"{name} points at production Binance ({host}): real money "
            f"needs BINANCE_LIVE=1; for demo trading use {demo_url}"
        )
    if where == "other":
        raise SettingsError(
            f"{name}: {host!r} is neither a Binance demo/testnet host "
            f"({', '.join(sorted(DEMO_HOSTS))}) nor loopback (the simulator)"
        )


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, str]) -> str:
    """An absolute URL with the secure scheme, or the plain one to loopback only."""
    value = _text(env, name, default).rstrip("/")
    secure, plain = schemes
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SettingsError(f"{name} is not a URL: {value!r}") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise SettingsError(f"{name} must be a {secure}:// URL, got {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(f"{name} must be a base URL, without user, query or fragment")
    if parts.scheme == plain and host_environment(parts.hostname) != "local":
        raise SettingsError(
            f"{name}: {plain}:// sends the API key in clear; it is allowed only to loopback "
            f"(the simulator), use {secure}://"
        )
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
