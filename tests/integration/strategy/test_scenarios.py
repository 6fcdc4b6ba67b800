"""The strategies against the simulator's ground truth: a scripted session recorded by the real
recorder into TimescaleDB, backtested, and the signals compared with the script's episodes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from strategy.backtest import BacktestResult, run_backtest
from strategy.config import IndicatorParams, StrategyConfig, StrategySpec
from strategy.signals import Side, Signal

SYMBOL = "BTCUSDT"
BAR_MS = 1000

# 1 s bars and baselines of a minute, so a few simulated minutes hold a whole story. Walls are
# levels of at least 15 times the median level near the mid: the simulator's scripted walls are
# 40-60 typical orders, its random book never stacks that much on one price.
INDICATORS = IndicatorParams(
    bar_ms=BAR_MS,
    panic_baseline_bars=30,
    panic_cdf_min_samples=30,
    absorption_ref_windows=10,
    cascade_baseline_s=60,
    cascade_no_new_extreme_s=10,
    wall_k_mult=15.0,
    vwap_window_ms=60_000,
)
STRATEGIES = (
    StrategySpec("composite", params={"context_window_bars": 90, "cooldown_bars": 60}),
    StrategySpec("scored_imbalance", params={"window_bars": 10, "baseline_bars": 30}),
    StrategySpec("wall", params={"memory_bars": 60, "cooldown_bars": 60}),
)
CONFIG = StrategyConfig(
    symbols=(SYMBOL,), executor="off", indicators=INDICATORS, strategies=STRATEGIES
)

PANIC_THEN_ABSORPTION = {
    "episodes": [
        {"kind": "quiet", "start": 0, "duration": 60},
        {"kind": "panic_selloff", "start": 60, "duration": 60, "peak_liquidations_per_s": 12},
        {"kind": "absorption", "start": 120, "duration": 45, "wall_size": 60},
    ]
}
QUIET = {"episodes": [{"kind": "quiet", "start": 0, "duration": 150}]}
WALL_THEN_BREAKOUT = {
    "episodes": [
        {"kind": "quiet", "start": 0, "duration": 40},
        {"kind": "wall", "start": 40, "duration": 30, "side": "ask", "offset": 8, "wall_size": 40},
        {"kind": "breakout", "start": 70, "duration": 30, "direction": "up"},
    ]
}


def episode(session: Any, kind: str) -> dict[str, Any]:
    return next(e for e in session.episodes if e["kind"] == kind and e["symbol"] == SYMBOL)


def signals_of(result: BacktestResult, strategy: str) -> list[Signal]:
    return [signal for signal, _ in result.signals if signal.strategy == strategy]


def bps(a: float, b: float) -> float:
    return abs(a - b) / b * 1e4


async def trade_prices(dsn: str, start_ms: int, end_ms: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT price FROM agg_trades WHERE symbol = $1 AND time >= $2 AND time < $3"
            " ORDER BY time, agg_trade_id",
            SYMBOL,
            datetime.fromtimestamp(start_ms / 1000, UTC),
            datetime.fromtimestamp(end_ms / 1000, UTC),
        )
    finally:
        await conn.close()
    return [r["price"] for r in rows]


async def test_composite_buys_the_absorption_at_the_wall_after_the_cascade_is_exhausted(
    record_session, strategy_db
):
    session = await record_session(PANIC_THEN_ABSORPTION, 165)
    result = await run_backtest(strategy_db, CONFIG, keep_snapshots=True)
    panic, absorption = episode(session, "panic_selloff"), episode(session, "absorption")
    snaps = result.snapshots
    assert snaps is not None and result.bars_with_book > 0.5 * result.bars

    # The indicators saw the scripted cascade start during the sell-off and end after it.
    cascade = [s for s in snaps if s.cascade_side == -1]
    assert cascade, "no long-liquidation cascade detected"
    assert panic["start"] <= cascade[0].cascade_start_ms < panic["end"]
    exhausted = next(s for s in cascade if s.cascade_exhausted)
    assert exhausted.end_ms > panic["start"] + 30_000  # not before the peak of liquidations

    composite = signals_of(result, "composite")
    assert composite, "the composite strategy never fired"
    first = composite[0]
    assert all(s.side is Side.LONG for s in composite)
    # After the cascade's exhaustion, which the script puts at the end of the sell-off ...
    assert first.time_ms >= exhausted.end_ms
    assert first.time_ms >= panic["end"]
    # ... and while the bid wall absorbs the selling.
    assert first.time_ms <= absorption["end"] + BAR_MS
    assert first.reasons["cascade_exhausted"] is True
    assert first.reasons["absorption_side"] == -1

    # Entry and stop around the wall; the wall is the one the simulator holds: the floor no
    # trade of the absorption episode went below.
    tick = snaps[0].tick_size
    floor = min(await trade_prices(strategy_db, absorption["start"] + 1000, absorption["end"]))
    wall = first.reasons["wall_price"]
    assert isinstance(wall, float)
    assert abs(wall - floor) <= 2 * tick
    assert bps(first.entry, wall) <= 2.0
    assert first.stop < wall and bps(first.stop, wall) <= 10.0
    assert first.targets[0] > first.entry


async def test_a_quiet_market_gives_no_signal_from_any_strategy(record_session, strategy_db):
    await record_session(QUIET, 150)
    result = await run_backtest(strategy_db, CONFIG, keep_snapshots=True)
    snaps = result.snapshots
    assert snaps is not None and result.bars >= 140
    # The inputs were all there: a synced book, trades every bar or so, panic and ATR warm.
    assert result.bars_with_book > 0.9 * result.bars
    assert sum(s.trades > 0 for s in snaps) > 0.5 * len(snaps)
    assert any(s.panic_score is not None for s in snaps)
    assert {spec.name for spec in CONFIG.strategies} == {"composite", "scored_imbalance", "wall"}
    assert result.signals == []


async def test_the_wall_strategy_signals_the_breakout_through_an_ask_wall(
    record_session, strategy_db
):
    session = await record_session(WALL_THEN_BREAKOUT, 110)
    result = await run_backtest(strategy_db, CONFIG, keep_snapshots=True)
    wall_episode, rush = episode(session, "wall"), episode(session, "breakout")
    snaps = result.snapshots
    assert snaps is not None
    tick = snaps[0].tick_size

    breakouts = [s for s in signals_of(result, "wall") if s.reasons["kind"] == "breakout"]
    assert breakouts, "no wall breakout signal"
    signal = breakouts[0]
    assert signal.side is Side.LONG and signal.reasons["wall_side"] == "ask"
    assert wall_episode["start"] < signal.time_ms <= rush["end"]
    # The wall it broke is the simulator's: `offset` ticks above the ask when the episode began.
    before = await trade_prices(strategy_db, wall_episode["start"] - 5000, wall_episode["start"])
    wall = signal.reasons["wall_price"]
    assert isinstance(wall, float)
    expected = before[-1] + wall_episode["params"]["offset"] * tick
    assert abs(wall - expected) <= 3 * tick
    assert signal.entry > wall > signal.stop
    assert signal.targets[0] > signal.entry
