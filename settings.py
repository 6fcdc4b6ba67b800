"""Flowline's settings: one frozen object built from the environment (and ``.env``).

Every variable is documented in ``.env.example``. A bad value raises ``SettingsError`` whose
message names the variable, so start-up fails with one clear line instead of a traceback.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from dotenv import load_dotenv

from symbols import bad_symbols

ROOT = Path(__file__).resolve().parent
EMBEDDED_DB_PORT_DEFAULT = 54329
DEPTH_SPEEDS = ("100ms", "250ms", "500ms")
SPOT_DEPTH_SPEEDS = ("100ms", "1000ms")  # spot's diff depth: @depth@100ms or @depth (1000 ms)
VENUE_NAMES = ("binance", "bybit")  # collector.venues.VENUES (settings imports no collector)
BYBIT_DEPTHS = ("50", "200")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
HYPERTABLES = (
    "agg_trades",
    "depth_updates",
    "depth_snapshots",
    "book_top",
    "mark_prices",
    "force_orders",
    "open_interest",
    "recorder_events",
    "indicators",  # written by the strategy worker
)
# The market-data tables the archive tier moves to Parquet (ARCHIVE_AFTER, db/archive.py).
ARCHIVE_TABLES = (
    "agg_trades",
    "depth_updates",
    "depth_snapshots",
    "book_top",
    "mark_prices",
    "force_orders",
    "open_interest",
)
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def embedded_database_url(port: int = EMBEDDED_DB_PORT_DEFAULT) -> str:
    """The URL of the project's own cluster under ./var/pg (see scripts/localdb.sh): the app
    role, whose generated password is read from var/pg/pgpass (0600), never put in the URL."""
    passfile = quote(str(ROOT / "var" / "pg" / "pgpass"))
    return f"postgresql://flowline@127.0.0.1:{port}/flowline?passfile={passfile}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_is_embedded: bool
    binance_ws_url: str = "wss://fstream.binance.com"
    binance_rest_url: str = "https://fapi.binance.com"
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    top_n: int | None = None  # SYMBOLS=top:N
    markets: tuple[str, ...] = ("futures",)
    binance_spot_ws_url: str = "wss://stream.binance.com:9443"
    binance_spot_rest_url: str = "https://api.binance.com"
    venues: tuple[str, ...] = ("binance",)  # VENUES: collector.venues.VENUES names
    bybit_ws_url: str = "wss://stream.bybit.com/v5/public/linear"
    bybit_rest_url: str = "https://api.bybit.com"
    bybit_symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")  # BYBIT_SYMBOLS (default: SYMBOLS)
    bybit_top_n: int | None = None  # BYBIT_SYMBOLS=top:N (by 24 h turnover)
    bybit_depth: int = 50  # BYBIT_DEPTH: orderbook.{50|200}
    spot_depth_speed: str = "100ms"
    depth_speed: str = "100ms"
    oi_poll_interval: float = 10.0
    depth_snapshot_interval: float = 3600.0
    book_top_interval: float = 1.0
    book_top_levels: int = 20
    batch_max_rows: int = 5000
    batch_max_ms: int = 100
    queue_max_rows: int = 500_000
    universe_refresh: float = 3600.0
    connection_max_age: float = 23 * 3600.0
    silent_after: float = 30.0
    gap_hold_max: float = 60.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    log_level: str = "INFO"
    log_format: str = "text"
    spool_dir: Path = ROOT / "var" / "spool"
    spool_max_bytes: int = 2 * 1024**3
    retention: Mapping[str, float] = field(default_factory=dict)  # table -> seconds
    archive_dir: Path = ROOT / "var" / "archive"
    archive_after: Mapping[str, float] = field(default_factory=dict)  # table -> seconds
    log_file: Path | None = None  # LOG_FILE: append log lines there instead of stderr
    grafana_db_password: str = field(default="", repr=False)  # db init: flowline_grafana's login
    leases: bool = False  # LEASES=on: share the symbols with other recorders (sql/021)
    lease_timeout: float = 15.0  # LEASE_TIMEOUT: a recorder silent this long loses its symbols
    recorder_processes: int = 1  # RECORDER_PROCESSES: child recorders sharing through leases
    lease_members: int = 1  # LEASE_MEMBERS: recorders expected; the first takes only its share
    redundancy: int = 1  # REDUNDANCY: recorders recording each symbol at once (implies LEASES=on)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Read and validate every variable; ``env`` defaults to ``os.environ`` (+ ``.env``)."""
        if env is None:
            if dotenv:
                load_dotenv(ROOT / ".env", override=False)
            env = os.environ
        r = _Reader(env)
        port = r.integer("FLOWLINE_DB_PORT", EMBEDDED_DB_PORT_DEFAULT, 1, 65535)
        url = r.text("DATABASE_URL", "")
        if url:
            check_database_url(url)
        symbols, top_n = r.symbols("SYMBOLS", "BTCUSDT,ETHUSDT")
        # BYBIT_SYMBOLS unset: the same list (or top:N) as SYMBOLS
        bybit_symbols, bybit_top_n = r.symbols(
            "BYBIT_SYMBOLS", r.text("SYMBOLS", "BTCUSDT,ETHUSDT")
        )
        return cls(
            database_url=url or embedded_database_url(port),
            database_is_embedded=not url,
            binance_ws_url=r.url("BINANCE_WS_URL", cls.binance_ws_url, ("ws://", "wss://")),
            binance_rest_url=r.url(
                "BINANCE_REST_URL", cls.binance_rest_url, ("http://", "https://")
            ),
            symbols=symbols,
            top_n=top_n,
            markets=r.markets("MARKETS"),
            binance_spot_ws_url=r.url(
                "BINANCE_SPOT_WS_URL", cls.binance_spot_ws_url, ("ws://", "wss://")
            ),
            binance_spot_rest_url=r.url(
                "BINANCE_SPOT_REST_URL", cls.binance_spot_rest_url, ("http://", "https://")
            ),
            venues=r.venues("VENUES"),
            bybit_ws_url=r.url("BYBIT_WS_URL", cls.bybit_ws_url, ("ws://", "wss://")),
            bybit_rest_url=r.url("BYBIT_REST_URL", cls.bybit_rest_url, ("http://", "https://")),
            bybit_symbols=bybit_symbols,
            bybit_top_n=bybit_top_n,
            bybit_depth=int(r.choice("BYBIT_DEPTH", "50", BYBIT_DEPTHS)),
            spot_depth_speed=r.choice("SPOT_DEPTH_SPEED", "100ms", SPOT_DEPTH_SPEEDS),
            depth_speed=r.choice("DEPTH_SPEED", "100ms", DEPTH_SPEEDS),
            oi_poll_interval=r.number("OI_POLL_INTERVAL", 10.0, 1.0),
            depth_snapshot_interval=r.number("DEPTH_SNAPSHOT_INTERVAL", 3600.0, 0.0),
            book_top_interval=r.number("BOOK_TOP_INTERVAL", 1.0, 0.01),
            book_top_levels=r.integer("BOOK_TOP_LEVELS", 20, 1, 1000),
            batch_max_rows=r.integer("BATCH_MAX_ROWS", 5000, 1, 1_000_000),
            batch_max_ms=r.integer("BATCH_MAX_MS", 100, 1, 600_000),
            queue_max_rows=r.integer("QUEUE_MAX_ROWS", 500_000, 1000, 100_000_000),
            universe_refresh=r.number("UNIVERSE_REFRESH", 3600.0, 0.5),
            connection_max_age=r.number("CONNECTION_MAX_AGE", 23 * 3600.0, 1.0),
            silent_after=r.number("STREAM_SILENT_AFTER", 30.0, 1.0),
            gap_hold_max=r.number("GAP_HOLD_MAX", 60.0, 0.0),
            metrics_host=r.text("METRICS_HOST", "127.0.0.1"),
            metrics_port=r.integer("METRICS_PORT", 9108, 0, 65535),
            log_level=r.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            log_format=r.choice("LOG_FORMAT", "text", ("text", "json")),
            spool_dir=Path(r.text("SPOOL_DIR", str(ROOT / "var" / "spool"))),
            spool_max_bytes=r.integer("SPOOL_MAX_BYTES", 2 * 1024**3, 1024**2, 2**50),
            retention=r.retention("RETENTION", ""),
            archive_dir=Path(r.text("ARCHIVE_DIR", str(ROOT / "var" / "archive"))).absolute(),
            archive_after=r.archive_after("ARCHIVE_AFTER"),
            log_file=Path(r.text("LOG_FILE", "")).absolute() if r.text("LOG_FILE", "") else None,
            grafana_db_password=env.get("GRAFANA_DB_PASSWORD", ""),
            leases=r.choice("LEASES", "off", ("on", "off")) == "on"
            or r.integer("REDUNDANCY", 1, 1, 3) > 1,
            lease_timeout=r.number("LEASE_TIMEOUT", 15.0, 1.0),
            recorder_processes=r.integer("RECORDER_PROCESSES", 1, 1, 64),
            lease_members=r.integer("LEASE_MEMBERS", 1, 1, 1000),
            redundancy=r.integer("REDUNDANCY", 1, 1, 3),
        )


class _Reader:
    """Typed access to environment variables; every error names the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        value = self.env.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.text(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
        return value

    def number(self, name: str, default: float, lo: float) -> float:
        raw = self.text(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
        if not math.isfinite(value):  # "inf" would switch a poller or the watchdog off
            raise SettingsError(f"{name} must be a finite number of seconds, got {raw!r}")
        if not value >= lo:
            raise SettingsError(f"{name} must be >= {lo}, got {raw!r}")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...], upper: bool = False) -> str:
        value = self.text(name, default)
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def choices(self, name: str, default: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        values = tuple(v.strip().lower() for v in self.text(name, default).split(",") if v.strip())
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise SettingsError(f"{name} must be a comma list of {', '.join(allowed)}, got {bad}")
        return values

    def markets(self, name: str) -> tuple[str, ...]:
        """futures, or futures,spot: spot follows the futures symbols, so it never comes alone."""
        values = self.choices(name, "futures", ("futures", "spot"))
        if "futures" not in values:
            raise SettingsError(f"{name} must include futures (futures or futures,spot)")
        return tuple(dict.fromkeys(values))

    def venues(self, name: str) -> tuple[str, ...]:
        """binance, bybit or binance,bybit: the names of ``collector.venues.VENUES``."""
        venues = tuple(dict.fromkeys(self.choices(name, "binance", VENUE_NAMES)))
        if "binance" not in venues and "spot" in self.markets("MARKETS"):
            raise SettingsError(f"MARKETS=futures,spot records Binance spot: add binance to {name}")
        return venues

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default).rstrip("/")
        if not value.startswith(schemes):
            raise SettingsError(f"{name} must start with {' or '.join(schemes)}, got {value!r}")
        return value

    def symbols(self, name: str, default: str) -> tuple[tuple[str, ...], int | None]:
        given = self.env.get(name)
        if given is not None and not given.strip():  # set but empty: not the defaults, silently
            raise SettingsError(f"{name} is empty: list symbols like BTCUSDT,ETHUSDT, or top:N")
        raw = self.text(name, default)
        if raw.lower().startswith("top:"):
            n = raw[4:]
            if not n.isdigit() or not 1 <= int(n) <= 1000:
                raise SettingsError(f"{name}=top:N needs 1 <= N <= 1000, got {raw!r}")
            return (), int(n)
        symbols = tuple(dict.fromkeys(s.strip().upper() for s in raw.split(",") if s.strip()))
        bad = bad_symbols(symbols)
        if bad or not symbols:
            raise SettingsError(f"{name} must be like BTCUSDT,ETHUSDT or top:N, got {raw!r}")
        return symbols, None

    def retention(self, name: str, default: str) -> dict[str, float]:
        result: dict[str, float] = {}
        for item in filter(None, (i.strip() for i in self.text(name, default).split(","))):
            table, _, duration = item.partition("=")
            if table.strip() not in HYPERTABLES:
                raise SettingsError(
                    f"{name}: unknown table {table.strip()!r}; use {', '.join(HYPERTABLES)}"
                )
            result[table.strip()] = parse_duration(name, duration)
        return result

    def archive_after(self, name: str) -> dict[str, float]:
        """'7d' (every table of ARCHIVE_TABLES) or 'agg_trades=7d,depth_updates=3d'."""
        raw = self.text(name, "")
        if raw and "=" not in raw:
            return dict.fromkeys(ARCHIVE_TABLES, parse_duration(name, raw))
        result = self.retention(name, raw)
        bad = [t for t in result if t not in ARCHIVE_TABLES]
        if bad:
            raise SettingsError(
                f"{name}: {bad[0]} is not archived; use {', '.join(ARCHIVE_TABLES)}"
            )
        return result


def parse_duration(name: str, text: str) -> float:
    """'500ms', '30s', '15m', '12h', '7d' -> seconds."""
    m = _DURATION.match(text.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise SettingsError(f"{name}: {text.strip()!r} is not a duration like 30s, 12h or 7d")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


# libpq's (and asyncpg's) values; read-write follows the primary of a multi-host URL
TARGET_SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")


def check_database_url(url: str) -> None:
    """DATABASE_URL: one host or several (``h1:p1,h2:p2``, tried in order by asyncpg, which
    with ``target_session_attrs=read-write`` keeps the one that accepts writes)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise SettingsError(f"DATABASE_URL must start with postgresql:// (got {redact_url(url)!r})")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed [IPv6 bracket
        raise SettingsError(f"DATABASE_URL is malformed: {exc} (got {redact_url(url)!r})") from None
    hosts = parts.netloc.rpartition("@")[2]
    specs = hosts.split(",") if hosts else []
    for spec in specs:  # no host at all is fine: host= in the query, or the default socket
        if spec.startswith("["):  # [IPv6]:port
            host, _, port = spec[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = spec.partition(":")
        if (not host and len(specs) > 1) or (port and not _is_port(port)):
            raise SettingsError(
                f"DATABASE_URL has a malformed host {spec!r}: use host:port[,host:port...]"
                f" (got {redact_url(url)!r})"
            )
    attrs = parse_qs(parts.query).get("target_session_attrs", [])
    if any(a not in TARGET_SESSION_ATTRS for a in attrs):
        raise SettingsError(
            f"DATABASE_URL: target_session_attrs must be one of {', '.join(TARGET_SESSION_ATTRS)}"
            f" (got {attrs[-1]!r})"
        )


def _is_port(text: str) -> bool:
    return text.isdigit() and 0 < int(text) < 65536


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
