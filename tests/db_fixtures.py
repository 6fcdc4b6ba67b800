"""A real TimescaleDB for tests: a fresh database per test session, never a mock.

Uses the embedded cluster (scripts/localdb.sh, started if needed) unless
FLOWLINE_TEST_DATABASE_URL points at another server we may create databases on.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from db.migrate import migrate
from settings import HYPERTABLES

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_url() -> str:
    url = os.environ.get("FLOWLINE_TEST_DATABASE_URL")
    if url:
        return url
    subprocess.run([str(ROOT / "scripts" / "localdb.sh"), "start"], check=True)
    out = subprocess.run(
        [str(ROOT / "scripts" / "localdb.sh"), "url"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


async def _create(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(admin, name))
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def _drop(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    return _admin_url()


@pytest.fixture(scope="session")
def database_url(admin_database_url: str) -> Iterator[str]:
    """A migrated database of its own for this test session."""
    name = f"flowline_test_{secrets.token_hex(4)}"
    asyncio.run(_create(admin_database_url, name))
    yield with_database(admin_database_url, name)
    asyncio.run(_drop(admin_database_url, name))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the session database with every hypertable emptied first."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"TRUNCATE {', '.join(HYPERTABLES)}")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def fresh_database_url(admin_database_url: str) -> Iterator[str]:
    """An empty database (no migrations applied) for tests of the migration runner itself."""
    name = f"flowline_test_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_database_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    yield with_database(admin_database_url, name)
    asyncio.run(_drop(admin_database_url, name))
