"""Applies the numbered SQL files of ``sql/`` that a database has not seen yet.

Each file runs in its own transaction and is recorded in ``schema_migrations`` with a checksum.
Files in ``sql/tsl/`` need TimescaleDB's community license (compression, continuous aggregates);
on an Apache-only build they are skipped, reported, and applied later if the license changes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# Serialises concurrent `db init`s (recorder and worker starting together); any constant works.
_LOCK_KEY = 0x466C6F776C696E65

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text        PRIMARY KEY,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    pass


@dataclass
class MigrationReport:
    license: str
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped_tsl: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Migration:
    version: str  # path relative to sql/, e.g. "002_market_data.sql" or "tsl/001_compression.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def needs_community_license(self) -> bool:
        return self.version.startswith("tsl/")


def load_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    files = sorted(sql_dir.glob("[0-9]*.sql")) + sorted((sql_dir / "tsl").glob("[0-9]*.sql"))
    return [Migration(str(f.relative_to(sql_dir)), f.read_text()) for f in files]


async def timescaledb_license(conn: asyncpg.Connection) -> str:
    """'timescale' (community), 'apache', or 'none' when the extension is not installed yet."""
    value = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    return value or "none"


async def migrate(conn: asyncpg.Connection, sql_dir: Path = SQL_DIR) -> MigrationReport:
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOTSTRAP)
        done = dict(await conn.fetch("SELECT version, checksum FROM schema_migrations"))
        report = MigrationReport(license="none")
        for m in load_migrations(sql_dir):
            if m.version in done:
                report.already.append(m.version)
                if done[m.version] != m.checksum:
                    report.changed.append(m.version)
                continue
            report.license = await timescaledb_license(conn)
            if m.needs_community_license and report.license != "timescale":
                report.skipped_tsl.append(m.version)
                continue
            await _apply(conn, m)
            report.applied.append(m.version)
        report.license = await timescaledb_license(conn)
        return report
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def _apply(conn: asyncpg.Connection, m: Migration) -> None:
    log.info("applying %s", m.version)
    try:
        async with conn.transaction():
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                m.version,
                m.checksum,
            )
    except asyncpg.PostgresError as exc:
        hint = ""
        if "timescaledb" in str(exc) and ("preload" in str(exc) or "not available" in str(exc)):
            hint = (
                " (the server needs the timescaledb extension installed and "
                "shared_preload_libraries='timescaledb'; see scripts/install_timescaledb.sh)"
            )
        elif isinstance(exc, asyncpg.InsufficientPrivilegeError):
            hint = (
                " (the DATABASE_URL role needs CREATE on the database and its public schema; "
                "a superuser can grant them, or run CREATE EXTENSION timescaledb once)"
            )
        raise MigrationError(f"{m.version} failed: {exc}{hint}") from exc
