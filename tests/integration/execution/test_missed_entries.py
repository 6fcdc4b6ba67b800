"""An accepted signal the worker committed but never handed to the executor (it was killed in
between) is entered at the next start while it is fresh, and recorded as missed when it is not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.risk import Decision
from strategy.signals import Side, Signal
from strategy.source import setup_reader
from strategy.store import write_signals
from tests.integration.execution.helpers import make_signal, position_row

Factory = Callable[..., Awaitable[BinanceExecutor]]


async def commit_accepted(dsn: str, signal: Signal, qty: float, age_s: float) -> None:
    """The signals row the worker's step commits, `age_s` seconds ago."""
    conn = await asyncpg.connect(dsn)
    try:
        await setup_reader(conn)
        await write_signals(conn, [(signal, Decision(True, "accepted", qty))])
        await conn.execute(
            "UPDATE signals SET created_at = now() - make_interval(secs => $2)"
            " WHERE signal_id = $1",
            signal.signal_id,
            age_s,
        )
    finally:
        await conn.close()


async def test_a_fresh_missed_signal_is_entered_and_an_old_one_recorded(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool, database_url: str
) -> None:
    await pool.execute("TRUNCATE signals CASCADE")  # and the paper rows that refer to them
    fresh = make_signal(exchange, Side.LONG)
    old = make_signal(exchange, Side.SHORT, symbol="ETHUSDT")
    await commit_accepted(database_url, fresh, 0.01, age_s=1)
    await commit_accepted(database_url, old, 0.5, age_s=60)

    executor = await executor_factory()
    missed = await executor.missed_entries()

    assert [(s.signal_id, q) for s, q in missed] == [(fresh.signal_id, 0.01)]
    assert missed[0][0] == fresh  # rebuilt field for field from its row
    row = await position_row(pool, old)
    assert row is not None and row["state"] == "rejected"
    assert row["reason"].startswith("missed: the worker stopped before entering it")

    await executor.enter(*missed[0])
    row = await position_row(pool, fresh)
    assert row is not None and row["state"] == "open" and row["filled_qty"] == 0.01
    assert await executor.missed_entries() == []  # handled now, never twice
