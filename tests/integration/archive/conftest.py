"""The archive tier against a real TimescaleDB, with rows recorded from the simulator."""

from __future__ import annotations

import asyncpg
import pytest

from settings import HYPERTABLES
from tests.integration.strategy.conftest import STRATEGY_TABLES


@pytest.fixture
async def archive_db(database_url: str) -> str:
    """The session database with every recorded, strategy and archive-catalog table emptied."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = ", ".join((*HYPERTABLES, *STRATEGY_TABLES, "archive_files"))
        await conn.execute(f"TRUNCATE {tables}")
    finally:
        await conn.close()
    return database_url
