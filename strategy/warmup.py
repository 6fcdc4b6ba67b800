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
from strategy.source import WINDOW_MS, fetch_range
from strategy.venue import VENUES


async def warm_up(
    conn: asyncpg.Connection, engine: Engine, config: StrategyConfig, until: int
) -> None:
    """Feed [until - warmup, until) without writing or deciding anything."""
    bar = config.indicators.bar_ms
    lo = until - config.warmup_ms
    lo -= lo % bar
    engine.position_ms = lo
    while lo < until:
        hi = min(lo + WINDOW_MS, until)
        rows = await fetch_range(conn, config.symbols, lo, hi, VENUES[config.venue])
        engine.feed(rows, hi, emit=False)
        lo = hi
