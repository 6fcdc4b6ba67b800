"""sql/032_venue.sql on a database that already holds rows: every hypertable gains ``venue``
(the old rows become binance), every natural key carries it, nothing is lost or duplicated, and
the same row of another venue is a new row while a replay of an old one is still a no-op."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from db.migrate import migrate
from settings import HYPERTABLES
from tests.populate import DAY0, FILL, fill, migrate_before

VERSION = "032_venue.sql"
ROWS = 3000  # per table: several chunks of the big tables, a few seconds in all


@pytest.fixture
async def populated(fresh_database_url: str, tmp_path: Path):
    conn = await asyncpg.connect(fresh_database_url)
    try:
        await migrate_before(conn, VERSION, tmp_path)
        for table in HYPERTABLES:
            await fill(conn, table, ROWS)
        yield conn
    finally:
        await conn.close()


async def key_of(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT a.attname FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL ORDER BY k.n""",
        table,
    )
    return [r["attname"] for r in rows]


async def test_venue_joins_every_hypertable_and_key_keeping_every_row(populated):
    conn = populated
    assert set(FILL) == set(HYPERTABLES)
    before = {t: await key_of(conn, t) for t in HYPERTABLES}
    assert all("venue" not in k for k in before.values())
    chunks = await conn.fetchval(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'agg_trades'"
    )
    assert chunks > 1  # the old key is rebuilt across chunks, not on one

    report = await migrate(conn)

    assert VERSION in report.applied
    for table in HYPERTABLES:
        assert await key_of(conn, table) == [*before[table], "venue"], table
        counts = await conn.fetchrow(
            f"SELECT count(*) AS n, count(*) FILTER (WHERE venue = 'binance') AS b FROM {table}"
        )
        assert (counts["n"], counts["b"]) == (ROWS, ROWS), table
        column = await conn.fetchrow(
            """SELECT is_nullable, column_default FROM information_schema.columns
               WHERE table_name = $1 AND column_name = 'venue'""",
            table,
        )
        assert column["is_nullable"] == "NO" and column["column_default"] == "'binance'::text"
        assert await conn.fetchval(
            "SELECT col_description($1::regclass, attnum) FROM pg_attribute"
            " WHERE attrelid = $1::regclass AND attname = 'venue'",
            table,
        )


async def test_after_it_another_venue_is_a_new_row_and_a_replay_is_not(populated):
    conn = populated
    await migrate(conn)
    first = await conn.fetchrow(
        "SELECT * FROM agg_trades WHERE symbol = 'ETHUSDT' ORDER BY time LIMIT 1"
    )
    row = dict(first)  # a Record iterates over its values
    columns = [c for c in row if c != "venue"]
    insert = (
        f"INSERT INTO agg_trades ({', '.join(columns)}, venue) VALUES "
        f"({', '.join(f'${i + 1}' for i in range(len(columns)))}, ${len(columns) + 1}) "
        "ON CONFLICT DO NOTHING"
    )
    values = [row[c] for c in columns]
    assert await conn.execute(insert, *values, "binance") == "INSERT 0 0"  # a replay
    assert await conn.execute(insert, *values, "bybit") == "INSERT 0 1"  # the other venue
    # the writer's INSERT without a venue still lands on binance and still dedupes
    plain = (
        "INSERT INTO mark_prices (time, symbol, mark_price, received_at)"
        " VALUES ($1, 'BTCUSDT', 1, $1) ON CONFLICT DO NOTHING"
    )
    step = dt.timedelta(days=3) / ROWS
    t = DAY0 + 3 * step  # g = 3: a BTCUSDT row of the fill
    assert await conn.execute(plain, t) == "INSERT 0 0"
    assert await conn.execute(plain, t + dt.timedelta(milliseconds=1)) == "INSERT 0 1"
