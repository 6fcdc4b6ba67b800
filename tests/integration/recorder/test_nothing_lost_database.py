"""Issue 5, the database goes away under heavy traffic: rows go to the disk spool, memory stays
bounded, the spool is replayed in order when the database returns, and nothing is lost.

The outage is a cut TCP link (tests/integration/recorder/tcp_proxy.py) between the recorder and
the embedded cluster, which other tests use at the same time and so is never stopped.
"""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp

from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    assert_trade_gaps_repaired,
    event_kinds,
    settle,
    start_market,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
# The issue asks for 30 s; DB_OUTAGE_SECONDS shortens it for quick local runs.
OUTAGE_SECONDS = float(os.environ.get("DB_OUTAGE_SECONDS", "31"))
QUEUE_MAX_ROWS = 1000


async def _watch(running, samples: list[tuple[int, int]], stop: asyncio.Event) -> None:
    """Rows held in memory (the largest table queue) and spool bytes, every 20 ms."""
    rec = running.recorder
    while not stop.is_set():
        samples.append((max(w.queued for w in rec.writers.values()), rec.spool.bytes_used))
        await asyncio.sleep(0.02)


async def _get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, await r.text()


async def test_database_cut_for_30s_under_heavy_traffic_loses_nothing(
    db, database_url, proxy, start_recorder
):
    samples: list[tuple[int, int]] = []
    watching = asyncio.Event()
    async with (
        Simulator(SYMBOLS, seed=43, rate=5000, record_truth=True, paused=True) as sim,
        start_recorder(
            sim, DATABASE_URL=proxy.url(database_url), QUEUE_MAX_ROWS=str(QUEUE_MAX_ROWS)
        ) as running,
    ):
        rec = running.recorder
        watcher = asyncio.create_task(_watch(running, samples, watching))
        await start_market(sim, running)
        await asyncio.sleep(2.0)
        cut_at = time.monotonic()
        await proxy.cut()
        await asyncio.sleep(OUTAGE_SECONDS)
        health_status, health = await _get(rec.metrics_port, "/health")
        _, metrics_text = await _get(rec.metrics_port, "/metrics")
        spooled = {t: w.stats.rows_spooled for t, w in rec.writers.items()}
        spool_files = rec.writers["mark_prices"].stats.batches_spooled
        outage = time.monotonic() - cut_at
        await proxy.restore()
        await asyncio.sleep(3.0)
        await settle(sim, running, db)
        watching.set()
        await watcher
        leftover = list(rec.spool.directory.glob("*/*"))
        spooled_total = rec.writers["agg_trades"].stats.rows_spooled

    # while the database was away: spooling, bounded memory, visible in /health and /metrics
    assert spooled["agg_trades"] > 1_000 and spooled["depth_updates"] > 0
    assert max(q for q, _ in samples) <= QUEUE_MAX_ROWS
    assert max(b for _, b in samples) > 0
    assert 0 < spool_files <= outage + 2  # a quiet table spools once a second, not per flush
    if outage > 30:
        assert health_status == 503 and '"db":"failing"' in health.replace(" ", "")
    assert 'flowline_rows_spooled_total{table="agg_trades"}' in metrics_text
    # afterwards: the spool is empty and every row is in the database, once
    assert leftover == [] and rec.spool.bytes_used == 0
    assert all(w.stats.rows_dropped == 0 for w in rec.writers.values())
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    assert await assert_depth_explained(db, sim.truth, SYMBOLS) == 0
    assert await assert_trade_gaps_repaired(db) == 0
    # in order: live rows were committed in aggTrade id order, spooled ones before newer ones
    for symbol in SYMBOLS:
        commits = await db.fetch(
            "SELECT agg_trade_id, xmin::text::bigint AS tx FROM agg_trades"
            " WHERE symbol = $1 AND event_time IS NOT NULL ORDER BY agg_trade_id",  # not backfilled
            symbol,
        )
        txs = [r["tx"] for r in commits]
        assert txs == sorted(txs), f"{symbol}: rows committed out of order"
    replays = await db.fetch(
        "SELECT stream, (details->>'rows')::int AS rows FROM recorder_events WHERE kind = 'replay'"
    )
    replayed: dict[str, int] = {}  # one event per replay; a long one may finish at shutdown
    for r in replays:
        replayed[r["stream"]] = replayed.get(r["stream"], 0) + r["rows"]
    assert replayed["agg_trades"] == spooled_total
    kinds = await event_kinds(db)
    assert kinds["spool"] >= 2 and kinds["replay"] >= 2


async def test_full_spool_drops_are_recorded_and_trades_fetched_again(
    db, database_url, proxy, start_recorder
):
    async with (
        Simulator(SYMBOLS, seed=47, rate=5000, record_truth=True, paused=True) as sim,
        start_recorder(
            sim, DATABASE_URL=proxy.url(database_url), SPOOL_MAX_BYTES=str(1024 * 1024)
        ) as running,
    ):
        rec = running.recorder
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        await proxy.cut()
        trades, diffs = rec.writers["agg_trades"], rec.writers["depth_updates"]
        await wait_until(
            lambda: trades.stats.rows_dropped > 0 and diffs.stats.rows_dropped > 0,
            30,
            "the spool to fill up",
        )
        await asyncio.sleep(1.0)
        await proxy.restore()
        await asyncio.sleep(2.0)
        await settle(sim, running, db)
        dropped = {t: w.stats.rows_dropped for t, w in rec.writers.items()}

    assert dropped["agg_trades"] > 0 and dropped["recorder_events"] == 0
    gaps = await db.fetch(
        "SELECT stream, symbol, start_time, end_time, status, (details->>'rows')::int AS rows,"
        " details->>'reason' AS reason FROM data_gaps WHERE details ? 'reason'"
    )
    # rows of tables without ids are lost: one unrecoverable gap each, spanning them
    for table, n in dropped.items():
        if n and table not in ("agg_trades", "depth_updates"):
            (g,) = [g for g in gaps if g["stream"] == table]
            assert (g["status"], g["reason"], g["rows"]) == ("unrecoverable", "spool full", n)
    # aggTrades are fetched again by id: a hole per symbol, repaired, and none missing
    trade_gaps = [g for g in gaps if g["stream"] == "agg_trades"]
    assert {g["symbol"] for g in trade_gaps} == set(SYMBOLS)
    assert {(g["status"], g["reason"]) for g in trade_gaps} == {("repaired", "spool full")}
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    # depth diffs are declared per symbol by ids and closed by a snapshot stored after them
    depth_gaps = [g for g in gaps if g["stream"] == "depth_updates"]
    assert dropped["depth_updates"] > 0 and depth_gaps
    assert {(g["status"], g["reason"]) for g in depth_gaps} == {("resynced", "spool full")}
    assert all(g["symbol"] in SYMBOLS for g in depth_gaps)
    await assert_depth_explained(db, sim.truth, SYMBOLS)
    after = await db.fetch(
        "SELECT DISTINCT symbol FROM depth_snapshots WHERE reason = 'after_hole'"
    )
    assert {r["symbol"] for r in after} == {g["symbol"] for g in depth_gaps}
    # the events of the outage were kept in memory and written after it
    kinds = await event_kinds(db)
    assert kinds["spool"] >= 1 and kinds["replay"] >= 1
