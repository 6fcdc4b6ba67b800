"""What ``python main.py db status`` reports: per hypertable size, rows, chunks, newest rows,
and the row counts of the strategy worker's plain tables (signals, positions, ...)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import asyncpg

from db.migrate import timescaledb_license

# Below this many rows a table is counted exactly: approximate_row_count() reads the planner's
# statistics, which say 0 until autovacuum has analysed a young table.
EXACT_COUNT_UP_TO = 1_000_000
PLAIN_TABLES = ("signals", "positions", "fills", "exchange_positions", "exchange_orders")


@dataclass(frozen=True)
class TableStatus:
    name: str
    rows: int
    rows_exact: bool  # False: the planner's estimate of a table past EXACT_COUNT_UP_TO
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
    plain_tables: dict[str, int]  # name -> rows, for the strategy worker's tables that exist
    archived: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # rows, bytes, files


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
    plain = {}
    for name in PLAIN_TABLES:
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
            plain[name] = await conn.fetchval(f'SELECT count(*) FROM "{name}"')  # a fixed name
    archived = {}
    if await conn.fetchval("SELECT to_regclass('archive_files') IS NOT NULL"):
        rows = await conn.fetch(
            "SELECT table_name, sum(rows), sum(bytes), count(*) FROM archive_files GROUP BY 1"
        )
        archived = {r[0]: (int(r[1]), int(r[2]), r[3]) for r in rows}
    license_ = await timescaledb_license(conn)
    return DatabaseStatus(license_, version, migrations, tables, plain, archived)


async def _row_count(conn: asyncpg.Connection, name: str) -> tuple[int, bool]:
    """Exact below EXACT_COUNT_UP_TO rows (the count stops there), else the estimate."""
    exact = await conn.fetchval(
        f'SELECT count(*) FROM (SELECT 1 FROM "{name}" LIMIT $1) t',  # name from the catalog
        EXACT_COUNT_UP_TO,
    )
    if exact < EXACT_COUNT_UP_TO:
        return exact, True
    approx = await conn.fetchval("SELECT approximate_row_count($1::regclass)", name)
    return max(int(approx or 0), exact), False


async def _table_status(conn: asyncpg.Connection, name: str, compression: bool) -> TableStatus:
    rows, exact = await _row_count(conn, name)
    size = await conn.fetchval("SELECT hypertable_size($1::regclass)", name)
    chunks = await conn.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE is_compressed) AS compressed"
        " FROM timescaledb_information.chunks WHERE hypertable_name = $1",
        name,
    )
    return TableStatus(
        name=name,
        rows=rows,
        rows_exact=exact,
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


@dataclass(frozen=True)
class Health:
    """What ``python main.py status`` reports: is data arriving, are holes open, are workers up."""

    newest: dict[str, dt.datetime | None]  # hypertable -> its newest row over every symbol
    open_holes: int
    workers: dict[str, dt.datetime]  # strategy worker -> processed watermark


async def health(conn: asyncpg.Connection) -> Health:
    names = await conn.fetch(
        "SELECT hypertable_name FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = 'public' ORDER BY hypertable_name"
    )
    newest = {}
    for row in names:
        per_symbol = await _newest_per_symbol(conn, row["hypertable_name"])
        newest[row["hypertable_name"]] = max(per_symbol.values(), default=None)
    holes = 0
    if await conn.fetchval("SELECT to_regclass('data_gaps') IS NOT NULL"):
        holes = await conn.fetchval("SELECT count(*) FROM data_gaps WHERE status = 'open'")
    workers = {}
    if await conn.fetchval("SELECT to_regclass('strategy_state') IS NOT NULL"):
        rows = await conn.fetch("SELECT worker, processed FROM strategy_state ORDER BY worker")
        workers = {r["worker"]: r["processed"] for r in rows}
    return Health(newest, holes, workers)
