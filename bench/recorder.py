"""Recorder throughput vs the raw COPY limit of this machine, measured in one run.

1. raw COPY: pre-built agg_trades rows, ``copy_records_to_table`` in batches of 10,000 into a
   scratch table (no staging, no ON CONFLICT): the physical limit.
2. recorder pipeline: the same number of aggTrade frames as Binance would send them (JSON bytes
   in a combined-stream wrapper) through the recorder's FrameHandler (decode, parse, sequence
   check) and TableWriter (batch, COPY to stage, INSERT ... ON CONFLICT DO NOTHING, NOTIFY).

Run: ``make db && .venv/bin/python bench/recorder.py [--rows 300000]`` (uses a scratch database
on the embedded cluster, or BENCH_DATABASE_URL). Prints rows/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.events import EventLog  # noqa: E402
from collector.handler import FrameHandler  # noqa: E402
from collector.rows import COLUMNS, AggTradeRow  # noqa: E402
from collector.venues.binance import parse  # noqa: E402
from collector.venues.binance.book import BookSync  # noqa: E402
from collector.venues.binance.sequence import TradeSequence  # noqa: E402
from db.writer import TableWriter  # noqa: E402
from tests.db_fixtures import Cluster, create_database, drop_database, open_cluster  # noqa: E402

T0 = 1_795_000_000_000


def frames(n: int, symbols: list[str]) -> list[bytes]:
    out = []
    for i in range(n):
        s = symbols[i % len(symbols)]
        d = {
            "e": "aggTrade",
            "E": T0 + i,
            "s": s,
            "a": 1_000_000 + i // len(symbols),
            "p": f"{65000 + (i % 977) * 0.1:.1f}",
            "q": f"{0.001 * (1 + i % 50):.3f}",
            "f": 5_000_000 + i,
            "l": 5_000_000 + i,
            "T": T0 + i - 2,
            "m": i % 3 == 0,
        }
        out.append(orjson.dumps({"stream": f"{s.lower()}@aggTrade", "data": d}))
    return out


async def raw_copy(url: str, rows: list[AggTradeRow]) -> float:
    conn = await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_raw")
        await conn.execute("CREATE TABLE bench_raw (LIKE agg_trades INCLUDING ALL)")
        started = time.perf_counter()
        for i in range(0, len(rows), 10_000):
            await conn.copy_records_to_table(
                "bench_raw", records=rows[i : i + 10_000], columns=COLUMNS["agg_trades"]
            )
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_raw")
        return len(rows) / elapsed
    finally:
        await conn.close()


async def pipeline(url: str, raw: list[bytes], symbols: list[str]) -> float:
    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})

    writer = TableWriter(
        "agg_trades",
        COLUMNS["agg_trades"],
        connect,
        max_rows=10_000,
        max_ms=200,
        queue_max_rows=5_000_000,
    )
    events: list[tuple] = []
    handler = FrameHandler(
        symbols=set(symbols),
        put=writer.put,
        events=EventLog(events.append, lambda: now),
        books={s: BookSync(s) for s in symbols},
        trades={s: TradeSequence() for s in symbols},
        on_depth_gap=lambda s, b: None,
        on_trade_hole=lambda s, a, b: None,
        clock=lambda: now,
    )
    now = dt.datetime.now(dt.UTC)
    task = asyncio.create_task(writer.run())
    started = time.perf_counter()
    for i in range(0, len(raw), 1000):
        for frame in raw[i : i + 1000]:
            handler(frame)
        await asyncio.sleep(0)  # let the writer run, as the socket reader would
    await writer.close()
    await task
    elapsed = time.perf_counter() - started
    assert writer.stats.rows_written == len(raw), writer.stats
    return len(raw) / elapsed


def bench_cluster() -> Cluster:
    """BENCH_DATABASE_URL's server, or the embedded cluster as the tests use it."""
    if os.environ.get("BENCH_DATABASE_URL"):
        url = os.environ["BENCH_DATABASE_URL"]
        return Cluster(admin=url, app=url)
    return open_cluster()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=300_000)
    args = p.parse_args()
    cluster = bench_cluster()
    await drop_database(cluster, "flowline_bench")
    url = await create_database(cluster, "flowline_bench")

    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
    raw = frames(args.rows, symbols)
    now = dt.datetime.now(dt.UTC)
    rows = [parse.agg_trade(orjson.loads(f)["data"], now) for f in raw]
    copy_rate = await raw_copy(url, rows)
    pipe_rate = await pipeline(url, raw, symbols)
    print(f"rows: {args.rows:,} aggTrades, {len(symbols)} symbols, batches of 10,000")
    print(f"raw COPY (no staging, no ON CONFLICT):           {copy_rate:>10,.0f} rows/s")
    print(f"recorder pipeline (JSON -> rows -> idempotent COPY): {pipe_rate:>10,.0f} rows/s")
    print(f"ratio recorder / raw COPY: {pipe_rate / copy_rate:.0%}")
    await drop_database(cluster, "flowline_bench")


if __name__ == "__main__":
    asyncio.run(main())
