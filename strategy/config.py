"""The strategy worker's configuration: a TOML file (per strategy and symbol) plus the environment.

The file is optional; every value has a documented default (see strategy.example.toml). Values
a person changes often (symbols, executor) also come from the environment, which wins. A bad
value raises SettingsError naming the file key or the variable.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from settings import SettingsError, parse_duration
from strategy.anomaly import AnomalyParams
from strategy.exits import ExitRules, parse_exits
from strategy.venue import VENUES
from symbols import bad_symbols

EXECUTORS = ("off", "paper", "binance", "binance-spot")
QUALITIES = ("HIGH", "MEDIUM", "LOW")
WALL_BASELINES = ("median", "mean")


@dataclass(frozen=True)
class IndicatorParams:
    """Parameters of the per-symbol indicator pipeline (see indicators/ for each definition)."""

    bar_ms: int = 60_000
    book_levels: int = 10  # depth imbalance over the top N levels
    book_view_levels: int = 400  # levels per side handed to walls/bands
    band_bps: float = 25.0
    wall_band_bps: float = 100.0
    wall_k_mult: float = 5.0
    wall_min_age_ms: int = 5_000
    panic_baseline_bars: int = 1440
    panic_cdf_min_samples: int = 1440
    absorption_ref_windows: int = 60
    cascade_baseline_s: int = 86_400
    cascade_k_start: float = 10.0
    cascade_min_notional: float = 1_000.0
    cascade_no_new_extreme_s: int = 30
    footprint_min_volume: float = 0.0
    footprint_ratio: float = 3.0
    footprint_row_ticks: int = 1
    divergence_pivot: int = 3
    large_trade_notional: float = 50_000.0
    vwap_window_ms: int = 3_600_000
    rsi_period: int = 14
    atr_period: int = 14
    tick_size: float | None = None  # None: inferred from the recorded book
    wall_baseline: str = "median"  # a wall is wall_k_mult x the side's median, or its "mean"

    def __post_init__(self) -> None:
        if self.wall_baseline not in WALL_BASELINES:
            raise SettingsError(f"[indicators] wall_baseline = {self.wall_baseline!r}: expected "
                                f"one of {', '.join(WALL_BASELINES)}")  # fmt: skip


SIZINGS = ("risk", "margin", "notional")
REPORTS = ("daily", "weekly")
ENTRIES = ("market", "limit")


@dataclass(frozen=True)
class RiskParams:
    equity: float = 10_000.0  # paper's starting equity (binance: the account's balance instead)
    sizing: str = "risk"  # risk | margin | notional: which of the next three sizes a position
    risk_per_trade: float = 0.005  # fraction of equity lost if the stop is hit
    margin_per_trade_pct: float = 2.0  # % of equity put up as margin (notional: × leverage)
    fixed_notional: float = 1_000.0  # quote notional of every position
    leverage: float = 5.0  # for margin sizing (binance: LEVERAGE)
    max_concurrent: int = 5
    max_exposure: float = 3.0  # open notional / equity
    max_daily: Mapping[str, int] = field(
        default_factory=lambda: {"HIGH": 20, "MEDIUM": 40, "LOW": 20}
    )
    cooldown_after_losses: int = 3
    cooldown_ms: int = 1_800_000
    # refuse a signal whose symbol's bar returns correlate beyond this (either sign) with a
    # symbol holding a position, over the last `correlation_bars` bars (0: off)
    max_correlation: float = 0.0
    correlation_bars: int = 96

    def __post_init__(self) -> None:
        if self.sizing not in SIZINGS:
            raise SettingsError(f"[risk] sizing = {self.sizing!r}: expected one of "
                                f"{', '.join(SIZINGS)}")  # fmt: skip


@dataclass(frozen=True)
class PaperParams:
    fee_bps: float = 4.0  # taker fee per side
    slippage_bps: float = 1.0
    breakeven_after_target1: bool = True
    stale_flatten_ms: int = (
        30_000  # flatten when the symbol's streams are silent this long (0: off)
    )
    # A position still open this long after its entry is closed at the market at a bar close
    # (paper, and the hypothetical positions of EXECUTION=off, so a symbol always frees itself).
    max_hold_ms: int = 14_400_000
    # "limit": the entry rests at the signal's price; not filled within limit_timeout it is
    # re-placed at the last price limit_replaces times, then cancelled (strategy/paper.py)
    entry: str = "market"
    limit_timeout_ms: int = 30_000
    limit_replaces: int = 0

    def __post_init__(self) -> None:
        if self.entry not in ENTRIES:
            raise SettingsError(f"[paper] entry = {self.entry!r}: expected one of "
                                f"{', '.join(ENTRIES)}")  # fmt: skip


@dataclass(frozen=True)
class UniverseParams:
    """Which symbols may be traded (strategy/screen.py); every filter 0 = off, all off = no
    checks. Volumes and open interest in the quote currency, spreads in %."""

    check_ms: int = 3_600_000  # how often (a whole number of minutes)
    min_volume_24h: float = 0.0
    min_open_interest: float = 0.0
    max_spread_pct: float = 0.0  # the median over the `check` before
    min_score: float = 0.0  # seed 001's 0-100 score
    gainers: int = 0  # keep only the N best 24 h changes ...
    losers: int = 0  # ... and the N worst (both 0: no ranking)
    emergency_spread_pct: float = 0.0  # a bar closing wider excludes until the next check

    @property
    def active(self) -> bool:
        limits = (self.min_volume_24h, self.min_open_interest, self.max_spread_pct, self.min_score)
        return any(limits) or any((self.gainers, self.losers, self.emergency_spread_pct))

    def __post_init__(self) -> None:
        if self.check_ms <= 0 or self.check_ms % 60_000:
            raise SettingsError(
                "[universe] check: expected a whole number of minutes, like 1h or 5m"
            )


@dataclass(frozen=True)
class StrategySpec:
    """One strategy as configured: enabled flag, parameters, and per-symbol overrides."""

    name: str
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    symbols: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    exits: ExitRules = field(default_factory=ExitRules)  # strategy/exits.py

    def for_symbol(self, symbol: str) -> tuple[bool, dict[str, Any]]:
        override = dict(self.symbols.get(symbol, {}))
        enabled = bool(override.pop("enabled", self.enabled))
        return enabled, {**self.params, **override}


@dataclass(frozen=True)
class StrategyConfig:
    # Empty: follow the symbols the recorder declares (SYMBOLS, or its live top:N), all of them
    # or, with `top_n`, the first N (its ranking order); added and removed as it changes them.
    symbols: tuple[str, ...] = ()
    top_n: int | None = None
    executor: str = "paper"
    venue: str = "binance"  # whose recorded rows are read (strategy/venue.py VENUES)
    indicators: IndicatorParams = IndicatorParams()
    risk: RiskParams = RiskParams()
    paper: PaperParams = PaperParams()
    universe: UniverseParams = UniverseParams()
    anomaly: AnomalyParams = field(default_factory=AnomalyParams)  # strategy/anomaly.py
    strategies: tuple[StrategySpec, ...] = (
        StrategySpec("composite"),
        StrategySpec("scored_imbalance"),
        StrategySpec("wall"),
    )
    worker_name: str = "default"
    # Without the recorder's commit watermark rows this recent may be unwritten: BATCH_MAX_MS + 100
    settle_ms: int = 200
    poll_ms: int = 1000  # fallback poll when no NOTIFY arrives
    warmup_ms: int = 3_600_000
    write_indicators: bool = True
    webhook_url: str | None = None
    # Scheduled reports of the live signals and trades (strategy/live_report.py), written
    # under reports_dir/worker_name/ and sent through the notifiers.
    reports: tuple[str, ...] = ("daily", "weekly")
    reports_dir: str = "var/reports"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9109


PRESETS_DIR = Path(__file__).parent / "presets"


def presets() -> list[str]:
    """The ready presets, one per original system (strategy/presets/NAME.toml)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def preset_path(name: str) -> Path:
    """The file of preset `name`; SettingsError listing the allowed names when there is none."""
    if name not in presets():
        raise SettingsError(f"--preset {name!r}: unknown preset (allowed: {', '.join(presets())})")
    return PRESETS_DIR / f"{name}.toml"


def config_path(config: Path | None, preset: str | None) -> Path | None:
    """The TOML a command runs: --config FILE or --preset NAME (not both)."""
    if preset is None:
        return config
    if config is not None:
        raise SettingsError("give --config FILE or --preset NAME, not both")
    return preset_path(preset)


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> StrategyConfig:
    """Read the TOML file (if any), then apply the environment; check every key, type and range
    (a SettingsError names the first bad one and what is allowed)."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"STRATEGY_CONFIG={path}: {exc}") from exc
    config = _apply_env(_from_mapping(data), env)
    from strategy.strategies import check_strategies  # the strategies import this module

    check_strategies(config.strategies)
    return config


SECTIONS = ("worker", "indicators", "risk", "paper", "universe", "anomaly", "strategies")
STRATEGY_KEYS = ("enabled", "params", "symbols", "exits")
# TOML key -> field, for values given as durations ("30s", "1h"; plain numbers are seconds)
DURATIONS = {
    "worker": {"settle": "settle_ms", "poll": "poll_ms", "warmup": "warmup_ms"},
    "indicators": {"bar": "bar_ms"},
    "risk": {"cooldown": "cooldown_ms"},
    "paper": {"max_hold": "max_hold_ms", "limit_timeout": "limit_timeout_ms"},
    "universe": {"check": "check_ms"},
    "anomaly": {"calm": "calm_ms"},
}
# Allowed ranges (inclusive) and how a message says them; numbers not listed must be > 0.
RANGES: dict[str, tuple[float, float, str]] = {
    "risk_per_trade": (1e-12, 1.0, "> 0 and <= 1 (a fraction of equity)"),
    "max_concurrent": (1, 1e9, ">= 1"),
    "cooldown_after_losses": (1, 1e9, ">= 1"),
    "cooldown_ms": (0, 1e15, ">= 0"),
    "max_correlation": (0, 1.0, ">= 0 and <= 1 (0: off)"),
    "correlation_bars": (4, 1e6, ">= 4"),
    "wall_k_mult": (1.0, 1e9, ">= 1 (times the median level)"),
    "footprint_min_volume": (0, 1e18, ">= 0"),
    "footprint_ratio": (1.0, 1e9, ">= 1"),
    "fee_bps": (0, 1e4, ">= 0"),
    "slippage_bps": (0, 1e4, ">= 0"),
    "max_hold_ms": (0, 1e15, ">= 0 (0: never)"),
    "limit_timeout_ms": (1, 1e15, "> 0"),
    "limit_replaces": (0, 9, ">= 0 and <= 9"),
    "settle_ms": (0, 1e9, ">= 0"),
    "warmup_ms": (0, 1e15, ">= 0"),
    "metrics_port": (0, 65535, "a port, 0 to 65535"),
    "min_volume_24h": (0, 1e18, ">= 0 (0: off)"),
    "min_open_interest": (0, 1e18, ">= 0 (0: off)"),
    "max_spread_pct": (0, 100, ">= 0 and <= 100 (0: off)"),
    "emergency_spread_pct": (0, 100, ">= 0 and <= 100 (0: off)"),
    "min_score": (0, 100, ">= 0 and <= 100 (0: off)"),
    "gainers": (0, 1e6, ">= 0 (0: off)"),
    "losers": (0, 1e6, ">= 0 (0: off)"),
    "sigma": (0.5, 100, ">= 0.5 and <= 100 (standard deviations)"),
    "window": (2, 1e6, ">= 2 (bars)"),
    "min_samples": (2, 1e6, ">= 2 (bars)"),
    "calm_ms": (0, 1e15, ">= 0"),
}


def _from_mapping(data: Mapping[str, Any]) -> StrategyConfig:
    for section, body in data.items():
        if section not in SECTIONS:
            raise SettingsError(f"[{section}]: unknown section (allowed: {', '.join(SECTIONS)})")
        if not isinstance(body, dict):
            raise SettingsError(f"{section}: expected a [{section}] table")
    worker = _section(data, "worker")
    chosen: dict[str, Any] = {}
    if "symbols" in worker:  # a list, or "top:N": follow the recorder's first N
        names = worker.pop("symbols")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            names = ",".join(names)
        if not isinstance(names, str):
            raise SettingsError('[worker] symbols: expected a list like ["BTCUSDT"] or "top:N"')
        chosen = _symbols("[worker] symbols", names)
    if "reports" in worker:
        chosen["reports"] = _reports(worker.pop("reports"))
    if worker.get("executor", EXECUTORS[0]) not in EXECUTORS:
        allowed = ", ".join(EXECUTORS)
        raise SettingsError(
            f"[worker] executor: expected one of {allowed}, got {worker['executor']!r}"
        )
    if "venue" in worker:
        _check_venue("[worker] venue", worker["venue"])
    config = replace(_build(StrategyConfig, worker, "worker"), **chosen)
    return replace(
        config,
        indicators=_build(IndicatorParams, _section(data, "indicators"), "indicators"),
        risk=_build(RiskParams, _section(data, "risk"), "risk"),
        paper=_build(PaperParams, _section(data, "paper"), "paper"),
        universe=_build(UniverseParams, _section(data, "universe"), "universe"),
        anomaly=_build(AnomalyParams, _section(data, "anomaly"), "anomaly"),
        strategies=_specs(data["strategies"]) if "strategies" in data else config.strategies,
    )


def _reports(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or any(v not in REPORTS for v in value):
        allowed = ", ".join(f'"{r}"' for r in REPORTS)
        raise SettingsError(
            f"[worker] reports: expected a list of {allowed} (or []), got {value!r}"
        )
    return tuple(dict.fromkeys(value))


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A section's keys as field names, durations converted to ms."""
    values = dict(data.get(name, {}))
    for key, field_name in DURATIONS.get(name, {}).items():
        if key in values:
            values[field_name] = _ms(f"[{name}] {key}", values.pop(key))
        elif field_name in values:  # the field's own name is not a TOML key
            raise SettingsError(f"[{name}] {field_name}: unknown setting (use {key})")
    return values


def _specs(strategies: Mapping[str, Any]) -> tuple[StrategySpec, ...]:
    specs = []
    for name, body in strategies.items():
        where = f"[strategies.{name}]"
        if not isinstance(body, dict):
            raise SettingsError(f"{where}: expected a table with {', '.join(STRATEGY_KEYS)}")
        for key in body:
            if key not in STRATEGY_KEYS:
                allowed = ", ".join(STRATEGY_KEYS)
                raise SettingsError(f"{where} {key}: unknown key (allowed: {allowed})")
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise SettingsError(f"{where} enabled: expected true or false, got {enabled!r}")
        params, symbols = body.get("params", {}), body.get("symbols", {})
        if not isinstance(params, dict) or not isinstance(symbols, dict):
            raise SettingsError(f"{where}: params and symbols must be tables")
        for symbol, override in symbols.items():
            if not isinstance(override, dict):
                raise SettingsError(f"{where} symbols.{symbol}: expected a table")
            if not isinstance(override.get("enabled", True), bool):
                raise SettingsError(f"{where} symbols.{symbol}.enabled: expected true or false")
        exits = parse_exits(where, body.get("exits", {}))
        overrides = {s: dict(v) for s, v in symbols.items()}
        specs.append(StrategySpec(name, enabled, dict(params), overrides, exits))
    return tuple(specs)


def _symbols(name: str, text: str) -> dict[str, Any]:
    """STRATEGY_SYMBOLS / [worker] symbols: a list of symbols, or top:N of the recorder's."""
    text = text.strip()
    if text.lower().startswith("top:"):
        n = text[4:]
        if not n.isdigit() or not 1 <= int(n) <= 1000:
            raise SettingsError(f"{name}=top:N needs 1 <= N <= 1000, got {text!r}")
        return {"symbols": (), "top_n": int(n)}
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if bad_symbols(symbols) or not symbols:
        raise SettingsError(f"{name} must be like BTCUSDT,ETHUSDT or top:N, got {text!r}")
    return {"symbols": symbols, "top_n": None}


def _apply_env(config: StrategyConfig, env: Mapping[str, str]) -> StrategyConfig:
    changes: dict[str, Any] = {}
    if symbols := env.get("STRATEGY_SYMBOLS", "").strip():
        changes.update(_symbols("STRATEGY_SYMBOLS", symbols))
    if executor := env.get("EXECUTION"):
        if executor not in EXECUTORS:
            raise SettingsError(f"EXECUTION={executor!r}: expected one of {', '.join(EXECUTORS)}")
        changes["executor"] = executor
    if venue := env.get("STRATEGY_VENUE"):
        changes["venue"] = _check_venue("STRATEGY_VENUE", venue)
    if url := env.get("WEBHOOK_URL"):
        changes["webhook_url"] = url
    if host := env.get("STRATEGY_METRICS_HOST"):
        changes["metrics_host"] = host
    if port := env.get("STRATEGY_METRICS_PORT"):
        if not port.isdigit() or int(port) > 65535:
            raise SettingsError(f"STRATEGY_METRICS_PORT={port!r}: expected a port number")
        changes["metrics_port"] = int(port)
    if batch := env.get("BATCH_MAX_MS"):
        # A row received settle_ms ago is committed: the recorder flushes within BATCH_MAX_MS.
        if not batch.isdigit():
            raise SettingsError(f"BATCH_MAX_MS={batch!r}: expected milliseconds")
        changes["settle_ms"] = max(config.settle_ms, int(batch) + 100)
    return replace(config, **changes)


def _check_venue(name: str, value: Any) -> str:
    if value not in VENUES:
        raise SettingsError(f"{name}: expected one of {', '.join(VENUES)}, got {value!r}")
    return value


def _build(cls: type, values: Mapping[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls) if f.name not in _NOT_IN_FILE}
    renamed = {v: k for k, v in DURATIONS.get(section, {}).items()}
    for key, value in values.items():
        if key not in known:
            listed = ["symbols", "reports"] * (section == "worker")
            listed += [renamed.get(k, k) for k in known]
            allowed = ", ".join(listed)
            raise SettingsError(f"[{section}] {key}: unknown setting (allowed: {allowed})")
        _check_value(f"[{section}] {renamed.get(key, key)}", key, value, known[key].default)
    return cls(**values)


_NOT_IN_FILE = {
    "anomaly",
    "indicators",
    "risk",
    "paper",
    "universe",
    "strategies",
    "symbols",
    "top_n",
    "reports",
}


def _check_value(name: str, key: str, value: Any, default: Any) -> None:
    """The value's type is its default's; numbers within RANGES (else > 0)."""
    if isinstance(default, bool) or isinstance(value, bool):
        if not isinstance(value, bool) or not isinstance(default, bool):
            raise SettingsError(f"{name}: expected {_kind(default)}, got {value!r}")
        return
    if isinstance(default, str) or (default is None and key.endswith("url")):
        if not isinstance(value, str):
            raise SettingsError(f"{name}: expected a string, got {value!r}")
        return
    if key == "max_daily":
        if not isinstance(value, dict) or any(
            q not in QUALITIES or not isinstance(n, int) or isinstance(n, bool) or n < 0
            for q, n in value.items()
        ):
            raise SettingsError(f"{name}: expected {{ HIGH = n, MEDIUM = n, LOW = n }}, n >= 0")
        return
    number = int if isinstance(default, int) else int | float
    if not isinstance(value, number):
        raise SettingsError(f"{name}: expected {_kind(default)}, got {value!r}")
    lo, hi, allowed = RANGES.get(key, (1e-300, math.inf, "> 0"))
    if not lo <= value <= hi:
        raise SettingsError(f"{name}: expected {allowed}, got {value!r}")


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    return "an integer" if isinstance(default, int) else "a number"


def _ms(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a duration like 30s, 12h or 7d, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise SettingsError(f"{name}: expected a duration >= 0, got {value!r}")
        return int(value * 1000)  # plain numbers are seconds
    if str(value).strip() in ("0", "0s"):
        return 0
    return int(parse_duration(name, str(value)) * 1000)


# What a worker computes depends on these; the rest (name, timing, ports, webhook) does not.
_OPERATIONAL = ("worker_name", "settle_ms", "poll_ms", "write_indicators", "webhook_url",
                "metrics_host", "metrics_port", "reports", "reports_dir")  # fmt: skip


def fingerprint(config: StrategyConfig) -> str:
    """A short hash of the settings that shape the worker's bars, signals and positions."""
    shaping = {k: v for k, v in asdict(config).items() if k not in _OPERATIONAL}
    # Settings added later count only when set, so a worker's stored fingerprint from before
    # them still matches (it would otherwise have to --reset after an upgrade).
    if shaping["venue"] == "binance":
        del shaping["venue"]
    if shaping["indicators"]["wall_baseline"] == "median":
        del shaping["indicators"]["wall_baseline"]
    if shaping["risk"]["max_correlation"] == 0 and shaping["risk"]["correlation_bars"] == 96:
        del shaping["risk"]["max_correlation"], shaping["risk"]["correlation_bars"]
    paper = shaping["paper"]
    limit_keys = ("entry", "limit_timeout_ms", "limit_replaces")
    if tuple(paper[k] for k in limit_keys) == ("market", 30_000, 0):
        for key in limit_keys:
            del paper[key]
    if shaping["universe"] == asdict(UniverseParams()):
        del shaping["universe"]
    if shaping["anomaly"] == asdict(AnomalyParams()):
        del shaping["anomaly"]
    for spec in shaping["strategies"]:
        if spec["exits"] == asdict(ExitRules()):
            del spec["exits"]
    text = json.dumps(shaping, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
