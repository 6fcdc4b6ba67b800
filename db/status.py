"""What ``python main.py db status`` reports: per hypertable size, rows, chunks, newest rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from db.migrate import timescaledb_license


@dataclass(frozen=True)
class TableStatus:
    name: str
    approx_rows: int
    total_bytes: int
    chunks: int
    compression_enabled: bool
    compressed_chunks: int
    newest: dict[str, dt.datetime]  # symbol -> newest time


@dataclass(frozen=True)
class DatabaseStatus:
    license: str
    timescaledb_version: str | None
    migrations: int
    tables: list[TableStatus]


async def database_status(conn: asyncpg.Connection) -> DatabaseStatus:
    version = await conn.fetchval(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    )
    has_migrations = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    migrations = (
        await conn.fetchval("SELECT count(*) FROM schema_migrations") if has_migrations else 0
    )
    tables = []
    if version:
        for row in await conn.fetch(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'public' ORDER BY hypertable_name"
        ):
            name, compression = row["hypertable_name"], row["compression_enabled"]
            tables.append(await _table_status(conn, name, compression))
    return DatabaseStatus(await timescaledb_license(conn), version, migrations, tables)


async def _table_status(conn: asyncpg.Connection, name: str, compression: bool) -> TableStatus:
    approx = await conn.fetchval("SELECT approximate_row_count($1::regclass)", name)
    size = await conn.fetchval("SELECT hypertable_size($1::regclass)", name)
    chunks = await conn.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE is_compressed) AS compressed"
        " FROM timescaledb_information.chunks WHERE hypertable_name = $1",
        name,
    )
    return TableStatus(
        name=name,
        approx_rows=int(approx or 0),
        total_bytes=int(size or 0),
        chunks=chunks["n"],
        compression_enabled=bool(compression),
        compressed_chunks=chunks["compressed"],
        newest=await _newest_per_symbol(conn, name),
    )


async def _newest_per_symbol(conn: asyncpg.Connection, table: str) -> dict[str, dt.datetime]:
    has_symbol = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = $1 AND column_name = 'symbol')",
        table,
    )
    if not has_symbol:
        newest = await conn.fetchval(f'SELECT max(time) FROM "{table}"')
        return {"*": newest} if newest else {}
    # A loose index scan: walk the distinct symbols through the (symbol, time DESC) index instead
    # of scanning months of rows, then read each symbol's newest time from the same index.
    rows = await conn.fetch(
        f"""
        WITH RECURSIVE symbols AS (
            (SELECT symbol FROM "{table}" ORDER BY symbol LIMIT 1)
            UNION ALL
            SELECT (SELECT t.symbol FROM "{table}" t WHERE t.symbol > s.symbol
                    ORDER BY t.symbol LIMIT 1)
            FROM symbols s WHERE s.symbol IS NOT NULL
        )
        SELECT s.symbol,
               (SELECT max(t.time) FROM "{table}" t WHERE t.symbol = s.symbol) AS newest
        FROM symbols s WHERE s.symbol IS NOT NULL
        """  # table names come from the catalog, never from input
    )
    return {r["symbol"]: r["newest"] for r in rows}
