"""Backtest: recorded history through the very objects the live worker uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from strategy.config import StrategyConfig
from strategy.engine import Engine, Outputs
from strategy.risk import Decision
from strategy.signals import Signal
from strategy.snapshot import Snapshot
from strategy.source import (
    WINDOW_MS,
    data_bounds,
    fetch_range,
    infer_lot_step,
    infer_tick_size,
    setup_reader,
)
from strategy.trades import ClosedTrade
from strategy.warmup import warm_up


@dataclass
class BacktestResult:
    start_ms: int
    end_ms: int
    signals: list[tuple[Signal, Decision]] = field(default_factory=list)
    trades: list[ClosedTrade] = field(default_factory=list)
    equity: list[tuple[int, float]] = field(default_factory=list)
    bars: int = 0
    bars_with_book: int = 0
    snapshots: list[Snapshot] | None = None  # kept only when asked (tests, small ranges)
    agg_trades: int = 0
    seconds: float = 0.0

    def add(self, out: Outputs) -> None:
        self.signals += out.signals
        self.trades += out.closed
        self.equity += out.equity
        self.bars += len(out.snapshots)
        self.bars_with_book += sum(s.book_valid for s in out.snapshots)
        if self.snapshots is not None:
            self.snapshots += out.snapshots


async def run_backtest(
    dsn: str,
    config: StrategyConfig,
    start_ms: int | None = None,
    end_ms: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    keep_snapshots: bool = False,
    warm: bool = False,
) -> BacktestResult:
    """Replay [start_ms, end_ms) (default: all recorded data of the configured symbols). `warm`:
    first run the config's `warmup` of history before the start silently, as the live worker
    does when it starts there (strategy/warmup.py)."""
    began = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        await setup_reader(conn)
        first, last = await data_bounds(conn, config.symbols)
        if first is None or last is None:
            raise ValueError(f"no recorded trades for {', '.join(config.symbols)}")
        bar = config.indicators.bar_ms
        start = first if start_ms is None else start_ms
        start -= start % bar
        end = last + 1 if end_ms is None else end_ms
        end += -end % bar  # up to the bar boundary that closes the last bar
        ticks = {s: config.indicators.tick_size or await infer_tick_size(conn, s)
                 for s in config.symbols}  # fmt: skip
        steps = {s: await infer_lot_step(conn, s) for s in config.symbols}
        engine = Engine(config, ticks, steps)
        if warm:
            await warm_up(conn, engine, config, start)
        result = BacktestResult(start, end, equity=[(start, config.risk.equity)])
        if keep_snapshots:
            result.snapshots = []
        # Read the next window while the engine works on this one (in a thread, so the event
        # loop keeps receiving rows and the database works on the other core meanwhile).
        windows = [(lo, min(lo + WINDOW_MS, end)) for lo in range(start, end, WINDOW_MS)]
        pending = asyncio.create_task(fetch_range(conn, config.symbols, *windows[0]))
        try:
            for i, (_, hi) in enumerate(windows):
                rows = await pending
                if i + 1 < len(windows):
                    nxt = windows[i + 1]
                    pending = asyncio.create_task(fetch_range(conn, config.symbols, *nxt))
                result.agg_trades += sum(r.trade_count for r in rows.values())
                result.add(await asyncio.to_thread(engine.feed, rows, hi))
                if progress is not None:
                    progress(hi - start, end - start, result.agg_trades)
        finally:
            pending.cancel()
        result.add(engine.finish(end))
    finally:
        await conn.close()
    result.seconds = time.perf_counter() - began
    return result
