"""A backtest over a range half in the archive, half in the database, sees what it saw when
all of it was in the database: same bars, same signals (and the same after a warm-up)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from db.archive import archive_run
from settings import ARCHIVE_TABLES
from strategy.backtest import BacktestResult, run_backtest
from tests.integration.strategy.conftest import record
from tests.integration.strategy.test_scenarios import CONFIG, WALL_THEN_BREAKOUT

MIDNIGHT_MS = 1_790_035_200_000  # a day (and 6 h) chunk boundary of every hypertable
BEFORE_MS = 50_000  # the session starts this long before it


def outcome(result: BacktestResult) -> tuple:
    return result.signals, result.snapshots, result.bars, result.agg_trades, result.trades


async def test_a_backtest_half_archived_gives_the_same_signals(archive_db, tmp_path):
    session = await record(archive_db, tmp_path / "spool", WALL_THEN_BREAKOUT, 100, ["BTCUSDT"],
                           speed=10, start_ms=MIDNIGHT_MS - BEFORE_MS)  # fmt: skip
    after_midnight = MIDNIGHT_MS + 30_000
    in_database = await run_backtest(archive_db, CONFIG, keep_snapshots=True)
    warm_in_database = await run_backtest(archive_db, CONFIG, after_midnight, warm=True,
                                          keep_snapshots=True)  # fmt: skip
    assert in_database.signals, "the scenario gave no signal: nothing to compare"

    conn = await asyncpg.connect(archive_db)
    try:
        cut = dt.datetime.fromtimestamp(MIDNIGHT_MS / 1000, dt.UTC)
        report = await archive_run(conn, tmp_path / "archive", cut, list(ARCHIVE_TABLES))
        left = await conn.fetchval("SELECT count(*) FROM agg_trades")
    finally:
        await conn.close()
    assert {"agg_trades", "depth_updates"} <= set(report.by_table)
    archived = report.by_table["agg_trades"][0]
    assert archived > 50 and left > 50, "not half and half"
    assert session.start_ms < MIDNIGHT_MS < session.end_ms

    across = await run_backtest(archive_db, CONFIG, keep_snapshots=True)
    assert outcome(across) == outcome(in_database)
    assert (across.start_ms, across.end_ms) == (in_database.start_ms, in_database.end_ms)
    warm_across = await run_backtest(archive_db, CONFIG, after_midnight, warm=True,
                                     keep_snapshots=True)  # fmt: skip
    assert outcome(warm_across) == outcome(warm_in_database)
