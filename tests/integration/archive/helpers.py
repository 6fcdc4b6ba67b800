"""What "database + archive" holds, read independently of the strategy's reader: every column
of every row, from the hypertables and from the catalogued Parquet files."""

from __future__ import annotations

import asyncpg

from db.archive_format import table_layout
from db.archive_read import CatalogFile, read_file
from settings import ARCHIVE_TABLES

Rows = dict[str, list[tuple]]  # table -> every row, every column, sorted


async def database_rows(conn: asyncpg.Connection) -> Rows:
    out = {}
    for table in ARCHIVE_TABLES:
        layout = await table_layout(conn, table)
        columns = ", ".join(f'"{c}"' for c in layout.columns)
        out[table] = sorted(
            (tuple(r) for r in await conn.fetch(f'SELECT {columns} FROM "{table}"')), key=repr
        )
    return out


async def stored_rows(conn: asyncpg.Connection) -> Rows:
    """Database + archive as a reader sees them: a catalogued file stands for its range, the
    hypertable for the rest."""
    out: Rows = {}
    for table in ARCHIVE_TABLES:
        layout = await table_layout(conn, table)
        files = [
            CatalogFile(r["path"], r["market"], r["symbol"], r["lo"], r["hi"], 0.0)
            for r in await conn.fetch(
                "SELECT path, market, symbol, (extract(epoch FROM range_start) * 1e6)::int8 AS lo,"
                " (extract(epoch FROM range_end) * 1e6)::int8 AS hi FROM archive_files"
                " WHERE table_name = $1",
                table,
            )
        ]
        archived = []
        for f in files:
            archived += [tuple(r.values()) for r in read_file(f, layout.columns, f.start, f.end)
                         .to_pylist()]  # fmt: skip
        covered = {(f.market, f.symbol, f.start, f.end) for f in files}
        hot = [r for r in (await database_rows_of(conn, table, layout.columns))
               if not _covered(covered, layout.columns, r)]  # fmt: skip
        out[table] = sorted(hot + archived, key=repr)  # any total order: compared as lists
    return out


async def database_rows_of(
    conn: asyncpg.Connection, table: str, columns: tuple[str, ...]
) -> list[tuple]:
    names = ", ".join(f'"{c}"' for c in columns)
    return [tuple(r) for r in await conn.fetch(f'SELECT {names} FROM "{table}"')]


def _covered(covered: set, columns: tuple[str, ...], row: tuple) -> bool:
    values = dict(zip(columns, row, strict=True))
    market, symbol = values.get("market", "usdm"), values["symbol"]
    t = values["time"]
    us = int(t.timestamp()) * 1_000_000 + t.microsecond
    return any(m == market and s == symbol and a <= us < b for m, s, a, b in covered)


async def load(conn: asyncpg.Connection, rows: Rows) -> None:
    """Put `rows` back as they were (the archive catalog emptied)."""
    await conn.execute(f"TRUNCATE archive_files, {', '.join(ARCHIVE_TABLES)}")
    for table, records in rows.items():
        layout = await table_layout(conn, table)
        await conn.copy_records_to_table(table, records=records, columns=layout.columns)
