"""A real TimescaleDB for tests: a fresh database per test session, never a mock.

Uses the embedded cluster (scripts/localdb.sh, started if needed): databases are created by its
superuser over the unix socket and used as the app role over TCP, as the recorder does. With
FLOWLINE_TEST_DATABASE_URL (another server we may create databases on) that one role does both.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Cluster:
    """Where test databases come from: ``admin`` may create and drop databases; ``app`` is the
    role the recorder and the worker use (on the embedded cluster a non-superuser that owns
    what it writes, as in production)."""

    admin: str
    app: str

    @property
    def app_role(self) -> str | None:
        return None if self.admin == self.app else urlsplit(self.app).username


def localdb(*args: str) -> str:
    """Runs scripts/localdb.sh and returns what it printed."""
    script = str(ROOT / "scripts" / "localdb.sh")
    out = subprocess.run([script, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def open_cluster() -> Cluster:
    """The embedded cluster (started if needed), or FLOWLINE_TEST_DATABASE_URL's server."""
    url = os.environ.get("FLOWLINE_TEST_DATABASE_URL")
    if url:
        return Cluster(admin=url, app=url)
    localdb("start")
    return Cluster(admin=localdb("admin-url"), app=localdb("url"))


async def create_database(cluster: Cluster, name: str, *, migrated: bool = True) -> str:
    """A new database the app role may migrate and write; returns the app role's URL to it."""
    conn = await asyncpg.connect(cluster.admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        if cluster.app_role:  # what localdb.sh grants on its own database
            await conn.execute(
                f'GRANT CONNECT, TEMPORARY, CREATE ON DATABASE "{name}" TO "{cluster.app_role}"'
            )
    finally:
        await conn.close()
    if cluster.app_role:
        conn = await asyncpg.connect(with_database(cluster.admin, name))
        try:
            await conn.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{cluster.app_role}"')
        finally:
            await conn.close()
    url = with_database(cluster.app, name)
    if migrated:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    return url


async def drop_database(cluster: Cluster, name: str) -> None:
    conn = await asyncpg.connect(cluster.admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return open_cluster()


@pytest.fixture(scope="session")
def database_url(cluster: Cluster) -> Iterator[str]:
    """A migrated database of its own for this test session (the app role's URL)."""
    name = f"flowline_test_{secrets.token_hex(4)}"
    url = asyncio.run(create_database(cluster, name))
    yield url
    asyncio.run(drop_database(cluster, name))


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
def fresh_database_url(cluster: Cluster) -> Iterator[str]:
    """An empty database (no migrations applied) for tests of the migration runner itself."""
    name = f"flowline_test_{secrets.token_hex(4)}"
    yield asyncio.run(create_database(cluster, name, migrated=False))
    asyncio.run(drop_database(cluster, name))
