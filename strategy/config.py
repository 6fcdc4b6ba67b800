"""The strategy worker's configuration: a TOML file (per strategy and symbol) plus the environment.

The file is optional; every value has a documented default (see strategy.example.toml). Values
a person changes often (symbols, executor) also come from the environment, which wins. A bad
value raises SettingsError naming the file key or the variable.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from settings import SettingsError, parse_duration
from symbols import bad_symbols

EXECUTORS = ("off", "paper", "binance")
QUALITIES = ("HIGH", "MEDIUM", "LOW")


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


@dataclass(frozen=True)
class RiskParams:
    equity: float = 10_000.0
    risk_per_trade: float = 0.005  # fraction of equity lost if the stop is hit
    max_concurrent: int = 5
    max_exposure: float = 3.0  # open notional / equity
    max_daily: Mapping[str, int] = field(
        default_factory=lambda: {"HIGH": 20, "MEDIUM": 40, "LOW": 20}
    )
    cooldown_after_losses: int = 3
    cooldown_ms: int = 1_800_000


@dataclass(frozen=True)
class PaperParams:
    fee_bps: float = 4.0  # taker fee per side
    slippage_bps: float = 1.0
    breakeven_after_target1: bool = True


@dataclass(frozen=True)
class StrategySpec:
    """One strategy as configured: enabled flag, parameters, and per-symbol overrides."""

    name: str
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    symbols: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_symbol(self, symbol: str) -> tuple[bool, dict[str, Any]]:
        override = dict(self.symbols.get(symbol, {}))
        enabled = bool(override.pop("enabled", self.enabled))
        return enabled, {**self.params, **override}


@dataclass(frozen=True)
class StrategyConfig:
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    executor: str = "paper"
    indicators: IndicatorParams = IndicatorParams()
    risk: RiskParams = RiskParams()
    paper: PaperParams = PaperParams()
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
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9109


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> StrategyConfig:
    """Read the TOML file (if any), then apply the environment."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"STRATEGY_CONFIG={path}: {exc}") from exc
    config = _from_mapping(data)
    return _apply_env(config, env)


def _from_mapping(data: Mapping[str, Any]) -> StrategyConfig:
    worker = dict(data.get("worker", {}))
    specs = tuple(
        StrategySpec(
            name,
            enabled=bool(body.get("enabled", True)),
            params=dict(body.get("params", {})),
            symbols={s: dict(v) for s, v in body.get("symbols", {}).items()},
        )
        for name, body in data.get("strategies", {}).items()
    )
    for key in ("settle", "poll", "warmup"):
        if key in worker:
            worker[f"{key}_ms"] = _ms(f"worker.{key}", worker.pop(key))
    if "symbols" in worker:
        worker["symbols"] = tuple(worker["symbols"])
        if bad := bad_symbols(worker["symbols"]):
            raise SettingsError(f"worker.symbols: {bad} are not symbols like BTCUSDT")
    config = _build(StrategyConfig, worker, "worker")
    indicators = dict(data.get("indicators", {}))
    if "bar" in indicators:
        indicators["bar_ms"] = _ms("indicators.bar", indicators.pop("bar"))
    risk = dict(data.get("risk", {}))
    if "cooldown" in risk:
        risk["cooldown_ms"] = _ms("risk.cooldown", risk.pop("cooldown"))
    return replace(
        config,
        indicators=_build(IndicatorParams, indicators, "indicators"),
        risk=_build(RiskParams, risk, "risk"),
        paper=_build(PaperParams, dict(data.get("paper", {})), "paper"),
        strategies=specs if "strategies" in data else config.strategies,
    )


def _apply_env(config: StrategyConfig, env: Mapping[str, str]) -> StrategyConfig:
    changes: dict[str, Any] = {}
    if symbols := env.get("STRATEGY_SYMBOLS") or env.get("SYMBOLS"):
        if symbols.startswith("top:"):
            raise SettingsError("STRATEGY_SYMBOLS: name the symbols (top:N is for the recorder)")
        names = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
        if bad := bad_symbols(names):
            raise SettingsError(f"STRATEGY_SYMBOLS: {bad} are not symbols like BTCUSDT")
        changes["symbols"] = names
    if executor := env.get("EXECUTION"):
        if executor not in EXECUTORS:
            raise SettingsError(f"EXECUTION={executor!r}: expected one of {', '.join(EXECUTORS)}")
        changes["executor"] = executor
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


def _build(cls: type, values: Mapping[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            raise SettingsError(f"[{section}] {key}: unknown setting")
    return cls(**values)


def _ms(name: str, value: Any) -> int:
    if isinstance(value, int | float):
        return int(value * 1000)  # plain numbers are seconds
    return int(parse_duration(name, str(value)) * 1000)
