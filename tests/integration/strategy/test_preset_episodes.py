"""Each preset (strategy/presets/) against a scripted simulator episode in which its original
system's setup happens (sim/scripts/), and a quiet control session in which none fires.

The presets are time-scaled as strategy/demo.toml scales the defaults: 1 s bars and baselines
of a minute instead of 1 min bars and a day, the MACD on 2 s bars instead of 15 min, so that a
few simulated minutes hold the whole story. Every rule and threshold stays the preset's, except
macd_book's `big_wall_threshold`, set for BTCUSDT through the per-symbol overrides: the seed's
5000 quote is less than one ordinary order of the simulated BTC book.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from strategy.backtest import run_backtest
from strategy.config import StrategyConfig, load_config, preset_path, presets
from strategy.signals import Side, Signal

SYMBOL = "BTCUSDT"
SPEED = 20.0
FAST_INDICATORS = {
    "bar_ms": 1000,
    "panic_baseline_bars": 30,
    "panic_cdf_min_samples": 30,
    "absorption_ref_windows": 10,
    "cascade_baseline_s": 60,
    "cascade_no_new_extreme_s": 10,
    "wall_min_age_ms": 2000,
    "vwap_window_ms": 60_000,
}
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "composite": {"context_window_bars": 90, "cooldown_bars": 60, "confirm_bars": 20},
    "scored_imbalance": {"window_bars": 10, "baseline_bars": 30},
    "wall": {"memory_bars": 60, "cooldown_bars": 60},
    "macd_book": {"macd_bar": "2s", "cooldown_bars": 30},
}
PER_SYMBOL = {"macd_book": {"big_wall_threshold": 200_000.0}}


def fast(name: str) -> StrategyConfig:
    config = load_config(preset_path(name), env={})
    specs = tuple(
        replace(spec, params={**spec.params, **FAST_PARAMS[spec.name]},
                symbols={SYMBOL: PER_SYMBOL.get(spec.name, {})})
        for spec in config.strategies
    )  # fmt: skip
    indicators = replace(config.indicators, **FAST_INDICATORS)
    return replace(config, symbols=(SYMBOL,), executor="paper", indicators=indicators,
                   strategies=specs)  # fmt: skip


def script(name: str) -> dict[str, Any]:
    return json.loads(Path(f"sim/scripts/{name}.json").read_text())


async def fired(dsn: str) -> dict[str, list[Signal]]:
    """Every preset's signals over what is recorded."""
    out = {}
    for name in presets():
        result = await run_backtest(dsn, fast(name))
        out[name] = [signal for signal, _ in result.signals]
    return out


def during(session: Any, kind: str, signals: list[Signal]) -> list[Signal]:
    """The signals dated within the (last) episode of `kind`, its closing bar included."""
    episode = [e for e in session.episodes if e["kind"] == kind][-1]
    return [s for s in signals if episode["start"] < s.time_ms <= episode["end"] + 1000]


async def test_composite_and_liquidity_hunter_fire_in_the_panic_then_absorption(
    record_session, strategy_db
):
    session = await record_session(script("composite"), 150, speed=SPEED)
    signals = await fired(strategy_db)
    # 004: after the panic, its divergence (the exhaustion) and the absorption at the bid wall
    (composite,) = signals["composite"]
    assert during(session, "absorption", [composite]) and composite.side is Side.LONG
    assert composite.reasons["divergence"] is True and composite.reasons["fp_imbalance_bars"]
    # 000: the bounce off the wall the absorption holds
    hunter = during(session, "absorption", signals["liquidity_hunter"])
    assert hunter and hunter[0].reasons["kind"] == "bounce" and hunter[0].side is Side.LONG


async def test_density_and_signal_bot_fire_in_the_breakout_through_a_wall(
    record_session, strategy_db
):
    session = await record_session(script("breakout"), 100, speed=SPEED)
    signals = await fired(strategy_db)
    # 002: the ask density, eroded by 30 %, broken through upwards
    density = during(session, "breakout", signals["density"])
    assert density and density[0].reasons["kind"] == "breakout"
    assert density[0].side is Side.LONG and density[0].reasons["wall_side"] == "ask"
    # 001: book imbalance, large buys and volume in the rush
    bot = during(session, "breakout", signals["signal_bot"])
    assert bot and all(s.side is Side.LONG for s in bot)
    assert signals["signal_bot"] == bot


async def test_macd_book_buys_the_turn_of_the_trend(record_session, strategy_db):
    session = await record_session(script("macd"), 120, speed=SPEED)
    signals = await fired(strategy_db)
    (macd,) = signals["macd_book"]
    up = [e for e in session.episodes if e["kind"] == "trend"][-1]
    assert up["params"]["direction"] == "up" and during(session, "trend", [macd])
    assert macd.side is Side.LONG and macd.reasons["macd_histogram"] > 0
    assert macd.reasons["book_imbalance"] >= 0 and macd.targets[0] > macd.entry > macd.stop


async def test_no_preset_fires_in_a_quiet_market(record_session, strategy_db):
    await record_session({"episodes": [{"kind": "quiet", "start": 0, "duration": 100}]}, 100,
                         speed=SPEED)  # fmt: skip
    signals = await fired(strategy_db)
    assert set(signals) == set(presets())
    assert signals == {name: [] for name in presets()}
