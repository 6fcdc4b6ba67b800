"""Bytes per row in the database and in the Parquet archive; archive and restore rows/s; the
archiver's memory on a 10-million-row chunk, and the recorder's rate while it archives.

1. Generates a synthetic BTCUSDT-like market per symbol (54 aggTrades/s with consecutive ids,
   prices on a 0.1 tick, sizes on a 0.001 lot; depth diffs every 100 ms of ~23 levels near the
   mid), writes it through the recorder's real TableWriter (COPY to a stage, INSERT ... ON
   CONFLICT) into a scratch database, archives it (db/archive.py: stream, write, fsync, verify,
   drop; timed in this process, so without a process start) and restores it. Prints bytes per
   row for each table in the database (and compressed, where the TimescaleDB has the community
   license), in the archive, and the rates.
2. Fills one agg_trades chunk with ``--chunk-rows`` rows (SQL generate_series) and archives it
   with ``python main.py archive run`` as a user runs it, under /usr/bin/time: its peak RSS.
   Meanwhile ``python main.py record`` records the blasting simulator (``--recorder-rate``
   messages/s, aggTrade and depth over 4 symbols, 127.0.0.1 only): rows/s committed and p99 lag
   in a window before the archive run and during it.

Run: ``make db && .venv/bin/python bench/storage.py [--hours 4] [--symbols 1]`` (``--hours 24``
is the full synthetic day: about 4.7 M trades and 0.86 M diffs per symbol). ``--chunk-rows 0``
skips step 2, ``--recorder-rate 0`` the recorder in it. Uses a scratch database on the embedded
cluster, or BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recorder import bench_cluster  # noqa: E402
from bench.recorder_e2e import (  # noqa: E402
    Scrape,
    Simulators,
    free_port,
    quantile,
    scrape,
    sim_frames,
    start_recorder,
    stop_process,
    wait_ready,
)
from collector.rows import COLUMNS  # noqa: E402
from db.archive import archive_tables  # noqa: E402
from db.archive_format import datetime_to_us, set_codecs, table_layout  # noqa: E402
from db.archive_read import catalogued, restore_files  # noqa: E402
from db.writer import TableWriter  # noqa: E402
from tests.db_fixtures import create_database, drop_database  # noqa: E402

DAY0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)  # a past day: every chunk is older than now
TRADES_PER_S = 54
DIFFS_PER_S = 10
LEVELS = 12  # per side: ~23 levels changed per diff
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]
MS = dt.timedelta(milliseconds=1)
TABLES = ("agg_trades", "depth_updates")
DB_NAME = "flowline_bench_storage"
STEP_MS = 10  # the blasting simulator's step


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
        for table in TABLES:
            layout = await table_layout(conn, table)
            lo, hi = datetime_to_us(DAY0), datetime_to_us(DAY0 + dt.timedelta(days=2))
            rows += await restore_files(conn, layout, await catalogued(conn, table, lo, hi), lo, hi)
        return rows, time.perf_counter() - began
    finally:
        await conn.close()


async def archive_in_process(url: str, root: Path) -> tuple[dict[str, int], float]:
    """Both tables archived as `main.py archive run` does (db/archive.py, a connection per
    table): (rows per table, seconds)."""
    conn, more = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        cuts = dict.fromkeys(TABLES, dt.datetime.now(dt.UTC))
        report = await archive_tables(conn, root, cuts, (more,))
    finally:
        await conn.close()
        await more.close()
    return {t: r.rows for t, r in report.by_table.items()}, report.seconds


# ---- step 2: a 10-million-row chunk, archived while the recorder records ----------------------

CHUNK_DAY = DAY0 - dt.timedelta(days=10)
CHUNK_SQL = """
INSERT INTO agg_trades (time, symbol, market, agg_trade_id, price, qty, normal_qty, first_trade_id,
                        last_trade_id, is_buyer_maker, event_time, received_at, extra)
SELECT t, 'BTCUSDT', 'usdm', 2000000000 + i, round(650000 + 500 * sin(i / 1e5) + random() * 4) / 10,
       q, q, 5000000000 + 3 * i, 5000000002 + 3 * i, random() < 0.5, t + interval '1 ms',
       t + (2000 + floor(random() * 58000)) * interval '1 microsecond', NULL
FROM generate_series(0, $1 - 1) AS i,
     LATERAL (SELECT $2::timestamptz + floor(i * 86400000.0 / $1) * interval '1 ms' AS t,
                     ceil(random() * 2000) / 1000 AS q) AS row"""


async def fill_chunk(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE agg_trades, depth_updates, archive_files")
        await conn.execute(CHUNK_SQL, rows, CHUNK_DAY)
        await conn.execute("VACUUM ANALYZE agg_trades")
    finally:
        await conn.close()


async def archive_process(url: str, root: Path) -> tuple[float, int, str]:
    """`python main.py archive run --table agg_trades --older-than 0` under /usr/bin/time:
    (seconds, peak RSS in kB, what it printed)."""
    env = os.environ | {"DATABASE_URL": url, "ARCHIVE_DIR": str(root)}
    args = ["/usr/bin/time", "-f", "%M", sys.executable, str(ROOT / "main.py"), "archive", "run",
            "--table", "agg_trades", "--older-than", "0"]  # fmt: skip
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    seconds = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit(f"archive run failed: {err.decode().strip()}")
    return seconds, int(err.decode().strip().splitlines()[-1]), out.decode().strip()


@dataclass
class Recording:
    sent_s: float  # frames per second the simulator sent
    rows_s: float  # aggTrade + depth rows committed per second
    p99_ms: float  # exchange time -> commit


async def while_recording(url: str, root: Path, rate: float, seconds: float) -> tuple:
    """The recorder on the blasting simulator: a window of `seconds` before the archive run,
    then the archive run's own duration. Returns (before, during, archive run's result)."""
    symbols = SYMBOLS
    port, work = free_port(), root.parent
    simulators = Simulators(STEP_MS)
    async with (
        aiohttp.ClientSession() as http,
        simulators.run(http, symbols, rate / (2 * len(symbols))) as (sim_url, offset),
    ):
        recorder = await start_recorder(url, sim_url, symbols, port, work, False)
        try:
            await wait_ready(http, port, recorder, len(symbols), work / "recorder.log")
            await asyncio.sleep(3)  # warm-up
            first = await scrape(http, port), await sim_frames(http, sim_url)
            await asyncio.sleep(seconds)
            middle = await scrape(http, port), await sim_frames(http, sim_url)
            result = await archive_process(url, root)
            last = await scrape(http, port), await sim_frames(http, sim_url)
        finally:
            await stop_process(recorder)
    return _recording(first, middle, offset), _recording(middle, last, offset), result


def _recording(a: tuple[Scrape, int], b: tuple[Scrape, int], offset_ms: float) -> Recording:
    (sa, fa), (sb, fb) = a, b
    seconds = sb.at - sa.at
    p99 = quantile(0.99, sa.lag, sb.lag) * 1000 + offset_ms
    return Recording((fb - fa) / seconds, (sb.rows - sa.rows) / seconds, p99)


async def chunk_step(url: str, root: Path, rows: int, rate: float, seconds: float) -> None:
    await fill_chunk(url, rows)
    if rate:
        before, during, (took, rss, out) = await while_recording(url, root, rate, seconds)
    else:
        took, rss, out = await archive_process(url, root)
    print(f"chunk: {rows:,} agg_trades rows in one chunk archived in {took:.1f} s "
          f"({rows / took:,.0f} rows/s, `main.py archive run`, process start included), "
          f"its peak RSS {rss // 1024} MB")  # fmt: skip
    print("\n".join(f"  {line}" for line in out.splitlines()))
    if rate:
        for name, r in (("before the archive run", before), ("during the archive run", during)):
            print(f"recorder {name}: simulator sent {r.sent_s:,.0f} frames/s, recorder "
                  f"committed {r.rows_s:,.0f} rows/s, p99 exchange time -> commit "
                  f"{r.p99_ms:.0f} ms")  # fmt: skip


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, default=4.0, help="synthetic hours per symbol")
    p.add_argument("--symbols", type=int, default=1, choices=range(1, len(SYMBOLS) + 1))
    p.add_argument("--chunk-rows", type=int, default=10_000_000, help="rows of step 2's chunk")
    p.add_argument("--recorder-rate", type=float, default=4000, help="messages/s in step 2")
    p.add_argument("--recorder-seconds", type=float, default=15, help="window before archiving")
    args = p.parse_args()
    cluster = bench_cluster()
    await drop_database(cluster, DB_NAME)
    url = await create_database(cluster, DB_NAME)
    try:
        with tempfile.TemporaryDirectory(prefix="flowline-storage-") as tmp:
            last = await measure(url, Path(tmp) / "archive", args.hours, args.symbols)
            if args.chunk_rows:
                await chunk_step(url, Path(tmp) / "chunk", args.chunk_rows, args.recorder_rate,
                                 args.recorder_seconds)  # fmt: skip
    finally:
        await drop_database(cluster, DB_NAME)
    print(last)


async def measure(url: str, root: Path, hours: float, symbols: int) -> str:
    """Step 1; returns the `storage:` line."""
    rng = np.random.default_rng(1)
    began = time.perf_counter()
    for symbol in SYMBOLS[:symbols]:
        await record(url, "agg_trades", trades(symbol, hours, rng))
        await record(url, "depth_updates", diffs(symbol, hours, rng))
    print(f"recorded {symbols} symbol(s) x {hours:g} h in {time.perf_counter() - began:.0f} s")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE agg_trades")
        await conn.execute("VACUUM ANALYZE depth_updates")
        n_trades, db_trade = await per_row(conn, "agg_trades")
        n_diffs, db_depth = await per_row(conn, "depth_updates")
        comp = [await compressed_per_row(conn, t, n) for t, n in
                (("agg_trades", n_trades), ("depth_updates", n_diffs))]  # fmt: skip
        archived, archive_s = await archive_in_process(url, root)
        sizes = dict(await conn.fetch(
            "SELECT table_name, sum(bytes) FROM archive_files GROUP BY 1"))  # fmt: skip
        restored, restore_s = await restore_all(url)
    finally:
        await conn.close()
    assert archived == {"agg_trades": n_trades, "depth_updates": n_diffs}, archived
    archive_trade = sizes["agg_trades"] / n_trades
    archive_depth = sizes["depth_updates"] / n_diffs
    archive_rate = (n_trades + n_diffs) / archive_s
    restore_rate = restored / restore_s
    print(f"agg_trades:    {n_trades:>10,} rows  db {db_trade:6.1f} B/row  "
          f"compressed {_b(comp[0])}  archive {archive_trade:5.1f} B/row")  # fmt: skip
    print(f"depth_updates: {n_diffs:>10,} rows  db {db_depth:6.1f} B/row  "
          f"compressed {_b(comp[1])}  archive {archive_depth:5.1f} B/row")  # fmt: skip
    print(f"archive: {n_trades + n_diffs:,} rows in {archive_s:.1f} s; "
          f"restore: {restored:,} rows in {restore_s:.1f} s")  # fmt: skip
    return (
        f"storage: db_trade_b={db_trade:.1f} db_depth_b={db_depth:.1f} "
        f"archive_trade_b={archive_trade:.1f} archive_depth_b={archive_depth:.1f} "
        f"archive_rows_s={archive_rate:.0f} restore_rows_s={restore_rate:.0f}"
    )


def _b(value: float | None) -> str:
    return "n/a (Apache build)" if value is None else f"{value:6.1f} B/row"


if __name__ == "__main__":
    asyncio.run(main())
