"""A start after the recorder's last depth snapshot (the worker started late, or a backtest from
a later time) builds its books from that snapshot and the diffs since, so book-based strategies
work from the first bar instead of waiting for the next snapshot (an hour by default; never in
these tests, which record with DEPTH_SNAPSHOT_INTERVAL=0)."""

from __future__ import annotations

import asyncpg

from strategy.backtest import run_backtest
from strategy.source import setup_reader
from tests.integration.strategy.test_bad_input import QUIET
from tests.integration.strategy.test_worker import fast_config

SYMBOL = "BTCUSDT"


async def test_a_start_after_the_last_snapshot_has_a_book_from_the_first_bar(
    record_session, strategy_db: str
):
    await record_session(QUIET, 20, symbols=[SYMBOL], speed=10)
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        snapshots = await conn.fetchval("SELECT count(*) FROM depth_snapshots")
        first = await conn.fetchval("SELECT min(time) FROM depth_updates")
    finally:
        await conn.close()
    assert snapshots == 1  # the start's: nothing later rebuilds a book
    start = first - first % 1000 + 5000  # seconds after the snapshot, no warm-up history
    config = fast_config(symbols=(SYMBOL,), warmup_ms=0)
    result = await run_backtest(strategy_db, config, start, start + 10_000, warm=True,
                                keep_snapshots=True)  # fmt: skip
    assert result.snapshots and all(s.book_valid for s in result.snapshots)
