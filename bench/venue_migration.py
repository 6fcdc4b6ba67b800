"""How long sql/032_venue.sql takes on a populated database, per table and per million rows.

Builds a scratch database at the schema just before 032, fills every hypertable with
``generate_series`` rows (``--rows`` in agg_trades and depth_updates, a tenth of it in the smaller
tables, a hundredth in depth_snapshots whose rows hold 400 levels), then runs 032 statement by
statement in one transaction, as the migration runner does, and prints the time per table.

Run: ``make db && .venv/bin/python bench/venue_migration.py [--rows 1000000]``.
Uses a scratch database on the embedded cluster, or BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recorder import bench_cluster  # noqa: E402
from db.migrate import SQL_DIR  # noqa: E402
from settings import HYPERTABLES  # noqa: E402
from tests.db_fixtures import create_database, drop_database  # noqa: E402
from tests.populate import fill, migrate_before  # noqa: E402

VERSION = "032_venue.sql"
NAME = "flowline_bench_venue"
SHARE = {"agg_trades": 1.0, "depth_updates": 1.0, "depth_snapshots": 0.01}  # else 0.1


async def populate(conn: asyncpg.Connection, rows: int) -> dict[str, int]:
    counts = {}
    for table in HYPERTABLES:
        n = max(1, int(rows * SHARE.get(table, 0.1)))
        started = time.perf_counter()
        await fill(conn, table, n)
        counts[table] = n
        print(f"filled {table:<16} {n:>10,} rows in {time.perf_counter() - started:6.1f} s")
    return counts


def statements(sql: str) -> list[tuple[str, str]]:
    """(table, statement) for each statement of the migration."""
    out = []
    for stmt in sql.split(";\n"):
        body = "\n".join(line for line in stmt.splitlines() if not line.startswith("--"))
        if body.strip():
            out.append((next(t for t in HYPERTABLES if t in body), body))
    return out


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the largest tables")
    args = p.parse_args()
    cluster = bench_cluster()
    await drop_database(cluster, NAME)
    url = await create_database(cluster, NAME, migrated=False)
    try:
        conn = await asyncpg.connect(url)
        with tempfile.TemporaryDirectory() as scratch:
            await migrate_before(conn, VERSION, Path(scratch))
        counts = await populate(conn, args.rows)
        await conn.execute("VACUUM ANALYZE")
        spent = dict.fromkeys(HYPERTABLES, 0.0)
        async with conn.transaction():
            for table, stmt in statements((SQL_DIR / VERSION).read_text()):
                started = time.perf_counter()
                await conn.execute(stmt)
                spent[table] += time.perf_counter() - started
        print(f"\n{VERSION}: time per table (one transaction, as `db init` runs it)")
        for table in HYPERTABLES:
            per_million = spent[table] / counts[table] * 1e6
            print(f"{table:<16} {counts[table]:>10,} rows {spent[table]:7.2f} s "
                  f"{per_million:7.2f} s per million rows")  # fmt: skip
        total = sum(spent.values())
        print(f"{'all':<16} {sum(counts.values()):>10,} rows {total:7.2f} s")
        await conn.close()
    finally:
        await drop_database(cluster, NAME)


if __name__ == "__main__":
    asyncio.run(main())
