"""The recorder under the simulator's faults: holes are detected, repaired and written down."""

from __future__ import annotations

import asyncio

from collector.connection import StreamConnection
from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until

SYMBOL = "BTCUSDT"


async def _kinds(db) -> list[str]:
    return [r["kind"] for r in await db.fetch("SELECT kind FROM recorder_events ORDER BY time")]


async def _settle(sim: Simulator, running) -> None:
    sim.pause()
    await asyncio.sleep(3.0)  # grace period of the backfill + the last batches
    await running.finish()


async def test_wrong_route_is_acknowledged_then_silent_and_the_watchdog_rebuilds():
    events: list[str] = []
    async with Simulator([SYMBOL], seed=3, rate=300) as sim:
        # aggTrade belongs on /market; on /public Binance accepts it and sends nothing
        conn = StreamConnection(
            "wrong",
            f"{sim.ws_url}/public/stream?streams=btcusdt@aggTrade",
            lambda frame: events.append("frame"),
            on_event=lambda kind, d: events.append(kind),
            silent_after=1.0,
        )
        task = asyncio.create_task(conn.run())
        try:
            await wait_until(lambda: events.count("stale") >= 2, 10, "the watchdog")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert "frame" not in events
    assert events.count("connect") >= 2  # rebuilt after each silence


async def test_skipped_depth_ids_record_a_gap_and_resync_the_book(db, start_recorder):
    async with (
        Simulator([SYMBOL], seed=5, rate=300, record_truth=True) as sim,
        start_recorder(sim) as running,
    ):
        books = running.recorder.keeper.books
        await wait_until(lambda: books[SYMBOL].valid, 15, "first sync")
        sim.faults.skip_depth_ids(SYMBOL, 3)
        await asyncio.sleep(2.5)  # on loopback the resync takes milliseconds
        await wait_until(lambda: books[SYMBOL].valid, 15, "the resync")
        await asyncio.sleep(1.0)
        await _settle(sim, running)
    gaps = await db.fetch("SELECT * FROM data_gaps WHERE stream = 'depth_updates'")
    assert len(gaps) >= 1 and all(g["status"] == "resynced" for g in gaps)
    assert await db.fetchval("SELECT count(*) FROM depth_snapshots WHERE reason = 'resync'") >= 1
    # no book_top row between the break and the resync: every row matches the simulator
    for top in await db.fetch("SELECT last_update_id, bid_prices FROM book_top"):
        truth = sim.book(SYMBOL, top["last_update_id"])
        assert top["bid_prices"] == [float(p) for p, _ in truth["bids"][:20]]


async def test_dropped_connections_are_backfilled_from_rest(db, start_recorder):
    async with (
        Simulator([SYMBOL], seed=9, rate=500, record_truth=True) as sim,
        start_recorder(sim) as running,
    ):
        conns = running.recorder.connections
        await wait_until(lambda: all(c.last_frame for c in conns), 15, "receiving")
        for _ in range(3):
            await asyncio.sleep(1.0)
            sim.faults.drop_connections()
        await asyncio.sleep(2.0)
        await _settle(sim, running)
    produced = {t["a"] for t in sim.truth.agg_trades[SYMBOL]}
    ids = [r["agg_trade_id"] for r in await db.fetch("SELECT agg_trade_id FROM agg_trades")]
    assert len(ids) == len(set(ids))
    first = min(ids)
    assert set(ids) == {a for a in produced if a >= first}
    kinds = await _kinds(db)
    assert kinds.count("disconnect") >= 3
    gaps = await db.fetch("SELECT status FROM data_gaps WHERE stream = 'agg_trades'")
    assert all(g["status"] == "repaired" for g in gaps)
    backfilled = await db.fetchval("SELECT count(*) FROM agg_trades WHERE event_time IS NULL")
    assert backfilled == 0 or gaps  # every REST row belongs to a recorded gap


async def test_malformed_frames_and_unknown_fields_never_stop_the_recorder(db, start_recorder):
    async with (
        Simulator([SYMBOL], seed=13, rate=300, record_truth=True) as sim,
        start_recorder(sim) as running,
    ):
        await wait_until(lambda: running.recorder.keeper.books[SYMBOL].valid, 15, "sync")
        sim.faults.malformed_frames(5)
        sim.faults.unknown_fields(True, {"zz": "new-field"})
        await asyncio.sleep(2.0)
        sim.faults.unknown_fields(False)
        await asyncio.sleep(1.0)
        bad = dict(running.recorder.handler.bad.counts)
        await _settle(sim, running)
    assert sum(bad.values()) >= 5
    assert await db.fetchval("SELECT count(*) FROM recorder_events WHERE kind = 'malformed'") >= 1
    extra = await db.fetchval("SELECT count(*) FROM agg_trades WHERE extra ->> 'zz' = 'new-field'")
    assert extra >= 1
    assert await db.fetchval("SELECT count(*) FROM agg_trades WHERE extra IS NULL") >= 1
