"""Bytes per row in the database and in the Parquet archive; archive and restore rows/s.

Generates a synthetic BTCUSDT-like market per symbol (54 aggTrades/s with consecutive ids,
prices on a 0.1 tick, sizes on a 0.001 lot; depth diffs every 100 ms of ~23 levels near the
mid), writes it through the recorder's real TableWriter (COPY to a stage, INSERT ... ON CONFLICT)
into a scratch database, archives it (db/archive.py: stream, write, fsync, verify, drop) and
restores it. Prints bytes per row for each table in the database (and compressed, where the
TimescaleDB has the community license), in the archive, the rates, and the archiver's peak RSS.

Run: ``make db && .venv/bin/python bench/storage.py [--hours 4] [--symbols 1]`` (``--hours 24``
is the full synthetic day: about 4.7 M trades and 0.86 M diffs per symbol, ~10 minutes here).
Uses a scratch database on the embedded cluster, or BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.rows import COLUMNS  # noqa: E402
from db.archive_format import datetime_to_us, set_codecs, table_layout  # noqa: E402
from db.archive_read import catalogued, restore_files  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.writer import TableWriter  # noqa: E402

DAY0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)  # a past day: every chunk is older than now
TRADES_PER_S = 54
DIFFS_PER_S = 10
LEVELS = 12  # per side: ~23 levels changed per diff
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]
MS = dt.timedelta(milliseconds=1)


def trades(symbol: str, hours: float, rng: np.random.Generator) -> list[tuple]:
    n = int(hours * 3600 * TRADES_PER_S)
    t_ms = np.sort(rng.integers(0, int(hours * 3_600_000), n))
    ticks = 650_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 1], n))  # price in 0.1 ticks
    lots = np.maximum(1, rng.lognormal(2.0, 1.5, n).astype(np.int64))  # size in 0.001 lots
    fills = rng.integers(1, 6, n)
    last = 5_000_000_000 + np.cumsum(fills)
    rx_us = rng.integers(2_000, 60_000, n)  # the recorder's receive delay, µs
    rows = []
    for i in range(n):
        at = DAY0 + dt.timedelta(milliseconds=int(t_ms[i]))
        q = int(lots[i]) / 1000
        rows.append((at, symbol, "usdm", 2_000_000_000 + i, int(ticks[i]) / 10, q, q,
                     int(last[i] - fills[i] + 1), int(last[i]), bool(rng.random() < 0.5),
                     at + MS, at + dt.timedelta(microseconds=int(rx_us[i])), None))  # fmt: skip
    return rows


def diffs(symbol: str, hours: float, rng: np.random.Generator) -> list[tuple]:
    n = int(hours * 3600 * DIFFS_PER_S)
    u = 9_000_000_000 + np.cumsum(rng.integers(5, 60, n))
    rows = []
    mid = 650_000
    for i in range(n):
        at = DAY0 + dt.timedelta(milliseconds=100 * i)
        mid += int(rng.integers(-2, 3))
        nb = int(rng.integers(LEVELS - 6, LEVELS + 6))
        na = int(rng.integers(LEVELS - 6, LEVELS + 6))
        bids = np.sort(mid - rng.choice(400, nb, replace=False))[::-1]
        asks = np.sort(mid + 1 + rng.choice(400, na, replace=False))
        bq = np.where(rng.random(nb) < 0.2, 0, rng.lognormal(3, 1.5, nb).astype(np.int64))
        aq = np.where(rng.random(na) < 0.2, 0, rng.lognormal(3, 1.5, na).astype(np.int64))
        rx = at + dt.timedelta(microseconds=int(rng.integers(2_000, 60_000)))
        rows.append((at, symbol, "usdm", at - 2 * MS, int(u[i - 1]) + 1 if i else int(u[0]) - 9,
                     int(u[i]), int(u[i - 1]) if i else int(u[0]) - 10,
                     [p / 10 for p in bids.tolist()], [q / 1000 for q in bq.tolist()],
                     [p / 10 for p in asks.tolist()], [q / 1000 for q in aq.tolist()],
                     rx, None))  # fmt: skip
    return rows


async def record(url: str, table: str, rows: list[tuple]) -> None:
    """Through the recorder's own writer, as it would have recorded them live."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})

    writer = TableWriter(table, COLUMNS[table], connect, max_rows=5000, max_ms=200,
                         queue_max_rows=len(rows) + 1)  # fmt: skip
    task = asyncio.create_task(writer.run())
    for i in range(0, len(rows), 5000):
        for row in rows[i : i + 5000]:
            writer.put(row)
        await asyncio.sleep(0)
    await writer.close()
    await task
    assert writer.stats.rows_written == len(rows), writer.stats


async def per_row(conn: asyncpg.Connection, table: str) -> tuple[int, float]:
    rows = await conn.fetchval(f"SELECT count(*) FROM {table}")  # a fixed name
    size = await conn.fetchval("SELECT hypertable_size($1::regclass)", table)
    return rows, size / rows


async def compressed_per_row(conn: asyncpg.Connection, table: str, rows: int) -> float | None:
    """Bytes per row after TimescaleDB's compression (community license only)."""
    if await conn.fetchval("SELECT current_setting('timescaledb.license', true)") != "timescale":
        return None
    await conn.execute(
        f"ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol')"
    )
    await conn.execute(f"SELECT compress_chunk(c, true) FROM show_chunks('{table}') c")
    size = await conn.fetchval("SELECT hypertable_size($1::regclass)", table)
    await conn.execute(f"SELECT decompress_chunk(c, true) FROM show_chunks('{table}') c")
    return size / rows


async def restore_all(url: str) -> tuple[int, float]:
    conn = await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})
    try:
        await set_codecs(conn)
        began, rows = time.perf_counter(), 0
        for table in ("agg_trades", "depth_updates"):
            layout = await table_layout(conn, table)
            lo, hi = datetime_to_us(DAY0), datetime_to_us(DAY0 + dt.timedelta(days=2))
            rows += await restore_files(conn, layout, await catalogued(conn, table, lo, hi), lo, hi)
        return rows, time.perf_counter() - began
    finally:
        await conn.close()


def archive_process(url: str, root: str) -> tuple[float, int | None]:
    """`python main.py archive run` as a user runs it: (seconds, its peak RSS in kB). The RSS
    comes from /usr/bin/time where there is one: a child forked from this big process would
    report this process's size as its own peak (Linux keeps the pre-exec high-water mark)."""
    env = os.environ | {"DATABASE_URL": url, "ARCHIVE_DIR": root}
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    began, peak = time.perf_counter(), None
    for table in ("agg_trades", "depth_updates"):
        args = [sys.executable, str(ROOT / "main.py"), "archive", "run", "--older-than", "0",
                "--table", table]  # fmt: skip
        done = subprocess.run([*timer, *args], env=env, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise SystemExit(f"archive run --table {table} failed: {done.stderr.strip()}")
        if timer:
            peak = max(peak or 0, int(done.stderr.strip().splitlines()[-1]))
    return time.perf_counter() - began, peak


def _admin_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    script = str(ROOT / "scripts" / "localdb.sh")
    subprocess.run([script, "start"], check=True)
    return subprocess.run(
        [script, "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


async def scratch_database(admin: str) -> str:
    conn = await asyncpg.connect(admin)
    await conn.execute("DROP DATABASE IF EXISTS flowline_bench_storage WITH (FORCE)")
    await conn.execute("CREATE DATABASE flowline_bench_storage")
    await conn.close()
    url = admin.rsplit("/", 1)[0] + "/flowline_bench_storage"
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    return url


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, default=4.0, help="synthetic hours per symbol")
    p.add_argument("--symbols", type=int, default=1, choices=range(1, len(SYMBOLS) + 1))
    args = p.parse_args()
    admin = _admin_url()
    url = await scratch_database(admin)
    rng = np.random.default_rng(1)
    began = time.perf_counter()
    for symbol in SYMBOLS[: args.symbols]:
        await record(url, "agg_trades", trades(symbol, args.hours, rng))
        await record(url, "depth_updates", diffs(symbol, args.hours, rng))
    print(
        f"recorded {args.symbols} symbol(s) x {args.hours:g} h "
        f"in {time.perf_counter() - began:.0f} s"
    )
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE agg_trades")
        await conn.execute("VACUUM ANALYZE depth_updates")
        n_trades, db_trade = await per_row(conn, "agg_trades")
        n_diffs, db_depth = await per_row(conn, "depth_updates")
        comp = [await compressed_per_row(conn, t, n) for t, n in
                (("agg_trades", n_trades), ("depth_updates", n_diffs))]  # fmt: skip
        with tempfile.TemporaryDirectory() as root:
            archive_s, rss = archive_process(url, root)
            sizes = dict(await conn.fetch(
                "SELECT table_name, sum(bytes) FROM archive_files GROUP BY 1"))  # fmt: skip
            restored, restore_s = await restore_all(url)
    finally:
        await conn.close()
    archive_trade = sizes["agg_trades"] / n_trades
    archive_depth = sizes["depth_updates"] / n_diffs
    archive_rate = (n_trades + n_diffs) / archive_s
    restore_rate = restored / restore_s
    print(f"agg_trades:    {n_trades:>10,} rows  db {db_trade:6.1f} B/row  "
          f"compressed {_b(comp[0])}  archive {archive_trade:5.1f} B/row")  # fmt: skip
    print(f"depth_updates: {n_diffs:>10,} rows  db {db_depth:6.1f} B/row  "
          f"compressed {_b(comp[1])}  archive {archive_depth:5.1f} B/row")  # fmt: skip
    print(
        f"archive: {n_trades + n_diffs:,} rows in {archive_s:.1f} s (`main.py archive run`, "
        f"process start included), its peak RSS {_mb(rss)}; "
        f"restore: {restored:,} rows in {restore_s:.1f} s"
    )
    conn = await asyncpg.connect(admin)
    await conn.execute("DROP DATABASE IF EXISTS flowline_bench_storage WITH (FORCE)")
    await conn.close()
    print(
        f"storage: db_trade_b={db_trade:.1f} db_depth_b={db_depth:.1f} "
        f"archive_trade_b={archive_trade:.1f} archive_depth_b={archive_depth:.1f} "
        f"archive_rows_s={archive_rate:.0f} restore_rows_s={restore_rate:.0f}"
    )


def _mb(kb: int | None) -> str:
    return "unknown (no /usr/bin/time)" if kb is None else f"{kb // 1024} MB"


def _b(value: float | None) -> str:
    return "n/a (Apache build)" if value is None else f"{value:6.1f} B/row"


if __name__ == "__main__":
    asyncio.run(main())
