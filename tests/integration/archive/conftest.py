"""The archive tier against a real TimescaleDB, with rows recorded from the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from settings import HYPERTABLES
from tests.integration.strategy.conftest import STRATEGY_TABLES


@pytest.fixture
async def archive_db(database_url: str) -> AsyncIterator[str]:
    """The session database with every recorded, strategy and archive-catalog table emptied,
    and the catalog emptied again afterwards: later tests of the session must not read files
    this test archived."""
    tables = ", ".join((*HYPERTABLES, *STRATEGY_TABLES, "archive_files"))
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"TRUNCATE {tables}")
    finally:
        await conn.close()
    yield database_url
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("TRUNCATE archive_files")
    finally:
        await conn.close()
