"""Recorded rows archived to Parquet and restored: every row, every value, exactly once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import asyncpg

from db.archive import archive_run
from db.status import database_status
from settings import ARCHIVE_TABLES, ROOT
from sim.server import Simulator
from tests.integration.archive.helpers import database_rows, stored_rows
from tests.integration.strategy.conftest import record

QUIET = {"episodes": [{"kind": "quiet", "start": 0, "duration": 30}]}


def cli(database_url: str, archive: Path, *args: str) -> str:
    env = {"DATABASE_URL": database_url, "ARCHIVE_DIR": str(archive), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "archive", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return done.stdout


async def test_archive_keeps_every_recorded_row_and_restore_brings_a_range_back(
    archive_db, tmp_path
):
    sims: list[Simulator] = []

    async def keep(sim: Simulator, _recorder: object) -> None:
        sims.append(sim)

    session = await record(archive_db, tmp_path / "spool", QUIET, 20, ["BTCUSDT", "ETHUSDT"],
                           speed=10, on_running=keep)  # fmt: skip
    conn = await asyncpg.connect(archive_db)
    try:
        recorded = await database_rows(conn)
        assert len(recorded["agg_trades"]) > 100 and len(recorded["depth_updates"]) > 100
        report = await archive_run(conn, tmp_path / "archive", dt.datetime.now(dt.UTC),
                                   list(ARCHIVE_TABLES))  # fmt: skip
        # Simulated time is months ago: those chunks have ended. depth_snapshots and book_top
        # carry the recorder's clock (now), so their chunk is still open and stays.
        moved = {"agg_trades", "depth_updates", "mark_prices", "open_interest"}
        assert moved <= set(report.by_table)
        assert report.rows == sum(len(recorded[t]) for t in report.by_table)
        left = await database_rows(conn)
        assert all(left[t] == [] for t in report.by_table)
        # database + archive is exactly what was recorded, and the trades what the exchange sent
        assert await stored_rows(conn) == recorded
        assert_trades_are_the_simulators(sims[0], recorded["agg_trades"])
        listing = cli(archive_db, tmp_path / "archive", "list")
        assert "agg_trades" in listing and "B/row" in listing
        status = await database_status(conn)
        assert status.archived["agg_trades"][0] == len(recorded["agg_trades"])

        # a range back into its hypertable, twice: the second time adds nothing
        lo = dt.datetime.fromtimestamp(session.start_ms / 1000 + 5, dt.UTC)
        hi = lo + dt.timedelta(seconds=8)
        wanted = [r for r in recorded["agg_trades"] if lo <= r[0] < hi]
        assert len(wanted) > 20
        for _ in range(2):
            cli(archive_db, tmp_path / "archive", "restore", "--table", "agg_trades",
                "--start", lo.isoformat(), "--end", hi.isoformat())  # fmt: skip
            assert (await database_rows(conn))["agg_trades"] == wanted
        assert await stored_rows(conn) == recorded  # restored rows are never counted twice

        # the next run folds the restored rows back into their file, whole
        cli(archive_db, tmp_path / "archive", "run", "--older-than", "0")
        assert await database_rows(conn) == left
        assert await stored_rows(conn) == recorded
    finally:
        await conn.close()


def assert_trades_are_the_simulators(sim: Simulator, rows: list[tuple]) -> None:
    """Ground truth from the simulator, not our own tables: ids, prices, sizes, sides, times."""
    produced = {(s, t["a"]): t for s, trades in sim.truth.agg_trades.items() for t in trades}
    assert len(rows) == len(produced) > 100
    for row in rows:  # time, symbol, market, agg_trade_id, price, qty, normal_qty, f, l, m, ...
        t = produced[row[1], row[3]]
        assert Decimal(repr(row[4])) == Decimal(str(t["p"]))
        assert Decimal(repr(row[5])) == Decimal(str(t["q"]))
        assert (row[7], row[8], row[9]) == (t["f"], t["l"], t["m"])
        assert round(row[0].timestamp() * 1000) == t["T"]
