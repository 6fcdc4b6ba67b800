"""Backtest: recorded history through the very objects the live worker uses."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import asyncpg

from settings import SettingsError
from strategy import universe
from strategy.config import StrategyConfig
from strategy.engine import Engine, Outputs
from strategy.risk import Decision
from strategy.screen import run_checks
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
from strategy.venue import VENUES
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
    symbols: tuple[str, ...] = ()
    # per symbol (bar close time ms, high, low, close) of every bar that traded: the report's
    # price chart, MAE/MFE and equity marked to market
    prices: dict[str, list[tuple[int, float, float, float]]] = field(default_factory=dict)

    def add(self, out: Outputs) -> None:
        self.signals += out.signals
        self.trades += out.closed
        self.equity += out.equity
        self.bars += len(out.snapshots)
        self.bars_with_book += sum(s.book_valid for s in out.snapshots)
        if self.snapshots is not None:
            self.snapshots += out.snapshots
        for snap in out.snapshots:
            if snap.close is not None and snap.high is not None and snap.low is not None:
                bar = (snap.time_ms + snap.bar_ms, snap.high, snap.low, snap.close)
                self.prices.setdefault(snap.symbol, []).append(bar)


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
        if not config.symbols:  # following the recorder: the symbols it declares now
            symbols = await universe.declared(conn, config.top_n, VENUES[config.venue])
            if not symbols:
                raise SettingsError(
                    "backtest: no symbols (give --symbols; no recorder declared any)"
                )
            config = replace(config, symbols=symbols)
        venue = VENUES[config.venue]
        bounds = await data_bounds(conn, config.symbols, venue)
        start, end = _range(config, *bounds, start_ms, end_ms)
        ticks = {s: config.indicators.tick_size or await infer_tick_size(conn, s, venue)
                 for s in config.symbols}  # fmt: skip
        steps = {s: await infer_lot_step(conn, s, venue) for s in config.symbols}
        engine = Engine(config, ticks, steps)
        if warm:
            await warm_up(conn, engine, config, start)
        result = BacktestResult(start, end, equity=[(start, config.risk.equity)])
        result.symbols = config.symbols
        if keep_snapshots:
            result.snapshots = []
        # Read the next window while the engine works on this one (in a thread, so the event
        # loop keeps receiving rows and the database works on the other core meanwhile).
        windows = [(lo, min(lo + WINDOW_MS, end)) for lo in range(start, end, WINDOW_MS)]
        pending = asyncio.create_task(fetch_range(conn, config.symbols, *windows[0], venue))
        try:
            for i, (lo, hi) in enumerate(windows):
                rows = await pending
                if engine.gate is not None:  # before the next read: one query at a time
                    symbols = list(engine.symbols)
                    await run_checks(conn, engine.gate, symbols, lo, hi, engine.bar_ms)
                if i + 1 < len(windows):
                    nxt = windows[i + 1]
                    pending = asyncio.create_task(fetch_range(conn, config.symbols, *nxt, venue))
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


def _range(
    config: StrategyConfig, first: int | None, last: int | None, start: int | None, end: int | None
) -> tuple[int, int]:
    """[start, end) on bar boundaries, default all recorded data; SettingsError (with the span
    that is recorded) for a range that is empty, inverted or outside it."""
    names = ", ".join(config.symbols)
    if config.venue != "binance":  # say whose rows were looked for
        names += f" on {config.venue}"
    if first is None or last is None:
        raise SettingsError(f"backtest: nothing is recorded for {names}")
    span = f"{names} recorded from {_iso(first)} to {_iso(last)}"
    if start is not None and end is not None and start >= end:
        raise SettingsError(
            f"backtest: --start {_iso(start)} is not before --end {_iso(end)} ({span})"
        )
    if (start is not None and start > last) or (end is not None and end <= first):
        raise SettingsError(f"backtest: nothing recorded in that range ({span})")
    bar = config.indicators.bar_ms
    start = first if start is None else start
    start -= start % bar
    end = last + 1 if end is None else end
    end += -end % bar  # up to the bar boundary that closes the last bar
    return start, end


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
