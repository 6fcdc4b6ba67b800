"""The writer COPYs fresh batches straight into the table and stages only after a conflict
(issue 18): a duplicate never gets stored and never costs the rest of its batch."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg

from collector.rows import COLUMNS, AggTradeRow
from db.writer import TableWriter

T0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def trade(agg_id: int) -> AggTradeRow:
    t = T0 + dt.timedelta(milliseconds=agg_id)
    return AggTradeRow(t, "BTCUSDT", "usdm", agg_id, 65000.1, 0.002, 0.002, agg_id, agg_id,
                       False, t, t, None)  # fmt: skip


async def write(writer: TableWriter, rows: list[AggTradeRow]) -> None:
    """Put the rows as one fresh batch and wait for its commit."""
    for row in rows:
        writer.put(row)
    before = writer.stats.flushes
    task = asyncio.create_task(writer.run())
    try:
        while writer.stats.flushes == before:
            assert not task.done(), task
            await asyncio.sleep(0.01)
    finally:
        await writer.close()
        await asyncio.wait_for(task, 10)


async def test_duplicates_fall_back_to_the_stage_and_nothing_is_lost(database_url, db):
    await db.execute("TRUNCATE agg_trades")

    def writer() -> TableWriter:
        return TableWriter("agg_trades", COLUMNS["agg_trades"],
                           lambda: asyncpg.connect(database_url), max_ms=50)  # fmt: skip

    first = writer()
    await write(first, [trade(i) for i in range(1, 101)])
    assert (first.stats.rows_written, first.stats.rows_duplicate) == (100, 0)
    assert first.staged_until == 0.0, "a batch of new rows went straight in"

    # ids 51..150: half of them stored already; the COPY meets a conflict and stages
    second = writer()
    await write(second, [trade(i) for i in range(51, 151)])
    assert (second.stats.rows_written, second.stats.rows_duplicate) == (50, 50)
    assert second.staged_until > 0.0, "after a conflict the writer stages for a while"

    # a batch repeating a row of its own: staged too, stored once
    third = writer()
    await write(third, [trade(151), trade(152), trade(151)])
    assert (third.stats.rows_written, third.stats.rows_duplicate) == (2, 1)

    rows = await db.fetch("SELECT agg_trade_id FROM agg_trades ORDER BY agg_trade_id")
    assert [r["agg_trade_id"] for r in rows] == list(range(1, 153))


async def test_a_direct_false_writer_always_stages(database_url, db):
    await db.execute("TRUNCATE agg_trades")
    connect = lambda: asyncpg.connect(database_url)  # noqa: E731
    staged = TableWriter("agg_trades", COLUMNS["agg_trades"], connect, max_ms=50, direct=False)
    await write(staged, [trade(i) for i in range(1, 11)] + [trade(5)])
    assert (staged.stats.rows_written, staged.stats.rows_duplicate) == (10, 1)
    assert await db.fetchval("SELECT count(*) FROM agg_trades") == 10
