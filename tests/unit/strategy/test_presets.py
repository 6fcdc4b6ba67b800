"""The five ready presets (strategy/presets/): each loads, builds its strategies, and states
its original document's parameters; `--preset` on both commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from strategy.config import load_config, preset_path, presets
from strategy.engine import build_strategies

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["composite", "density", "liquidity_hunter", "macd_book", "signal_bot"]


def test_one_preset_per_original_system():
    assert presets() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_loads_and_builds_its_strategies(name):
    config = load_config(preset_path(name), env={})
    assert len(config.strategies) == 1 and config.strategies[0].enabled
    (strategy,) = build_strategies(config, "BTCUSDT")
    assert strategy.name == config.strategies[0].name


def params(name: str) -> tuple:
    config = load_config(preset_path(name), env={})
    (strategy,) = build_strategies(config, "BTCUSDT")
    return config, strategy.params  # type: ignore[attr-defined]


def test_the_presets_follow_their_documents():
    config, p = params("density")  # 002 config.yaml and coin_parameters defaults
    assert (p.density_min_notional, p.density_neighbour_mult, p.density_neighbours) == (
        50000.0, 3.0, 5)  # fmt: skip
    assert (p.density_side_pct, p.touch_bps, p.bounce_exit_erosion) == (5.0, 20.0, 0.65)
    assert (p.erosion_min, p.hold_max_erosion, p.bounce_stop_bps) == (0.3, 0.1, 30.0)
    assert config.strategies[0].exits.breakeven_pct == 0.5
    assert (config.risk.leverage, config.risk.max_concurrent) == (10.0, 10)
    u = config.universe  # top 20 gainers + 20 losers every 300 s, $1M 24 h volume
    assert (u.gainers, u.losers, u.check_ms, u.min_volume_24h) == (20, 20, 300_000, 1e6)

    config, p = params("signal_bot")  # 001 CONFIG and SIGNAL_MANAGEMENT
    assert config.executor == "off" and config.indicators.bar_ms == 900_000
    assert config.indicators.rsi_period == 9 and config.indicators.large_trade_notional == 50000
    assert (p.imbalance_min, p.min_large_trades, p.volume_intensity_min) == (0.28, 3, 1.5)
    assert dict(config.strategies[0].exits.max_hold_ms)["HIGH"] == 45 * 60_000
    u = config.universe  # §3 universe minimums, checked hourly
    assert (u.min_volume_24h, u.min_open_interest, u.max_spread_pct) == (50e6, 10e6, 0.02)
    assert (u.check_ms, u.emergency_spread_pct) == (3_600_000, 0.02)
    assert (config.risk.max_correlation, config.risk.correlation_bars) == (0.6, 16)

    config, p = params("macd_book")  # 003 OrderBook Analysis Settings
    assert (p.max_spread_pct, p.min_liquidity_depth, p.big_wall_threshold) == (0.3, 15, 5000.0)
    assert (p.confidence_threshold, p.macd_bar, p.shorts) == (0.6, "15m", False)

    config, p = params("liquidity_hunter")  # 000: margin sizing, ticks, the average
    assert config.risk.sizing == "margin" and config.indicators.wall_baseline == "mean"
    assert p.touch_ticks > 0 and p.entry_offset_ticks > 0

    config, p = params("composite")  # 004 §4.8 with its confirmations and filters
    assert p.require_confirmations and p.wall_max_bps == 50.0 and p.panic_max < 1.0


def main(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


@pytest.mark.parametrize("command", ["strategy", "backtest"])
def test_an_unknown_preset_is_one_line_listing_the_allowed(command):
    done = main(command, "--preset", "turtle")
    assert done.returncode == 2
    assert done.stderr == (
        "error: --preset 'turtle': unknown preset (allowed: " + ", ".join(NAMES) + ")\n"
    )
    both = main(command, "--preset", "density", "--config", "strategy.example.toml")
    assert both.returncode == 2 and both.stderr.count("\n") == 1
    assert "not both" in both.stderr
