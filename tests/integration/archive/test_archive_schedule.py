"""The recorder's ARCHIVE_AFTER schedule runs `archive run` in a process of its own."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from db.archive_schedule import archive_on_schedule
from tests.integration.archive.helpers import database_rows, stored_rows
from tests.integration.strategy.conftest import record

QUIET = {"episodes": [{"kind": "quiet", "start": 0, "duration": 10}]}


async def test_the_schedule_archives_what_is_older_than_archive_after(archive_db, tmp_path):
    await record(archive_db, tmp_path / "spool", QUIET, 5, ["BTCUSDT"], speed=10)
    conn = await asyncpg.connect(archive_db)
    try:
        recorded = await database_rows(conn)
        catalogued = 0
        task = asyncio.create_task(
            archive_on_schedule(archive_db, tmp_path / "archive", {"agg_trades": 86400.0})
        )
        try:
            for _ in range(300):  # 30 s at most
                catalogued = await conn.fetchval("SELECT count(*) FROM archive_files")
                if catalogued or task.done():
                    break
                await asyncio.sleep(0.1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert catalogued, "the schedule archived nothing within 30 s"
        assert (await database_rows(conn))["agg_trades"] == []
        assert await stored_rows(conn) == recorded
    finally:
        await conn.close()
