"""kill -9 at every step of `archive run` loses nothing; the next run completes and cleans up."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg

from db.archive import PAUSE_ENV, STEPS
from settings import ROOT
from tests.integration.archive.helpers import database_rows, load, stored_rows
from tests.integration.strategy.conftest import record

QUIET = {"episodes": [{"kind": "quiet", "start": 0, "duration": 20}]}


async def archive_process(database_url: str, archive: Path, pause_at: str | None) -> int:
    """`main.py archive run --older-than 0`; with `pause_at`, killed (-9) once it gets there."""
    env = {"DATABASE_URL": database_url, "ARCHIVE_DIR": str(archive), "PATH": os.environ["PATH"]}
    if pause_at:
        env[PAUSE_ENV] = pause_at
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "archive", "run", "--older-than", "0",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    if pause_at:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line.decode().strip() == f"archive: paused at {pause_at}", line
        proc.send_signal(signal.SIGKILL)
    await proc.stderr.read()
    return await asyncio.wait_for(proc.wait(), 60)


def leftovers(archive: Path, catalogued: set[str]) -> list[Path]:
    return [p for p in archive.rglob("*") if p.is_file() and str(p) not in catalogued]


async def test_a_kill_at_any_archive_step_loses_no_row(archive_db, tmp_path):
    await record(archive_db, tmp_path / "spool", QUIET, 10, ["BTCUSDT"], speed=10)
    conn = await asyncpg.connect(archive_db)
    try:
        recorded = await database_rows(conn)
        assert len(recorded["agg_trades"]) > 20
        for step in STEPS:
            archive = tmp_path / f"archive-{step}"
            await load(conn, recorded)
            assert await archive_process(archive_db, archive, step) == -signal.SIGKILL
            assert await stored_rows(conn) == recorded, f"killed at {step}"
            assert await archive_process(archive_db, archive, None) == 0
            assert await stored_rows(conn) == recorded, f"re-run after a kill at {step}"
            paths = {r[0] for r in await conn.fetch("SELECT path FROM archive_files")}
            assert paths and not leftovers(archive, paths), step
            assert (await database_rows(conn))["agg_trades"] == [], step
    finally:
        await conn.close()
