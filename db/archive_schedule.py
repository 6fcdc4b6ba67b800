"""The recorder's ARCHIVE_AFTER schedule: ``archive run`` in a process of its own, hourly.

Kept apart from db/archive.py so the recorder never imports pyarrow.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from settings import ROOT

log = logging.getLogger(__name__)

SCHEDULE_EVERY = 3600.0  # seconds


async def archive_on_schedule(
    database_url: str, archive_dir: Path, after: Mapping[str, float], every: float = SCHEDULE_EVERY
) -> None:
    """The recorder's ARCHIVE_AFTER: `archive run` per table every `every` seconds, each in a
    process of its own, so encoding Parquet never holds up the recorder's event loop."""
    env = os.environ | {"DATABASE_URL": database_url, "ARCHIVE_DIR": str(archive_dir)}
    while True:
        for table, seconds in after.items():
            args = [
                "archive",
                "run",
                "--table",
                table,
                "--older-than",
                f"{round(seconds * 1000)}ms",
            ]
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "main.py"),
                *args,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
            )
            try:
                code = await proc.wait()
            except asyncio.CancelledError:
                proc.terminate()  # a killed run leaves the chunk or verified files: safe
                raise
            if code:
                log.warning("archive run --table %s exited with %d", table, code)
        await asyncio.sleep(every)
