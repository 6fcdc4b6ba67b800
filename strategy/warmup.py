"""Warming up: the history before a start, run silently through the engine.

The live worker does this at every start. A backtest from a given time does the same, so both
reach that time with the same indicator state and nothing open: a backtest that began with the
recorded data would also carry the positions, the day's signal counts and the loss streak of the
signals before it, which the worker never saw.
"""

from __future__ import annotations

import asyncpg

from strategy.config import StrategyConfig
from strategy.engine import Engine
from strategy.source import WINDOW_MS, book_seed_start, fetch_range
from strategy.venue import VENUES

# How far back a start looks for a snapshot to build its books from (see ``seed_books``).
MAX_BOOK_SEED_MS = 6 * 3_600_000


async def warm_up(
    conn: asyncpg.Connection, engine: Engine, config: StrategyConfig, until: int
) -> None:
    """Feed [until - warmup, until) without writing or deciding anything, on books built from
    the snapshots before it (``seed_books``)."""
    bar = config.indicators.bar_ms
    lo = until - config.warmup_ms
    lo -= lo % bar
    await seed_books(conn, engine, config, lo)
    engine.position_ms = lo
    while lo < until:
        hi = min(lo + WINDOW_MS, until)
        rows = await fetch_range(conn, config.symbols, lo, hi, VENUES[config.venue])
        engine.feed(rows, hi, emit=False)
        lo = hi


async def seed_books(
    conn: asyncpg.Connection, engine: Engine, config: StrategyConfig, lo: int
) -> None:
    """The books at `lo`: replayed from each symbol's newest snapshot before it, diffs and
    snapshots only (the indicators start at `lo`). Without it a start after the recorder's
    last snapshot (DEPTH_SNAPSHOT_INTERVAL is an hour) waits for the next one with no book,
    and every book-based strategy stays silent until then."""
    venue = VENUES[config.venue]
    at = await book_seed_start(conn, config.symbols, lo, venue)
    if at is None or lo - at > MAX_BOOK_SEED_MS:
        return
    while at < lo:
        hi = min(at + WINDOW_MS, lo)
        engine.seed_books(await fetch_range(conn, config.symbols, at, hi, venue))
        at = hi
