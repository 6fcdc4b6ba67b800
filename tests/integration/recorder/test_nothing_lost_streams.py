"""Issue 5, stream and REST faults: after each, the stored aggTrades are exactly the simulator's,
every depth diff is stored or inside a recorded gap, and recorder_events names the fault."""

from __future__ import annotations

import asyncio

from sim.server import Simulator
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    assert_trade_gaps_repaired,
    event_kinds,
    eventually,
    settle,
    start_market,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


async def test_connections_dropped_every_two_seconds_lose_nothing(db, start_recorder):
    async with (
        Simulator(SYMBOLS, seed=31, rate=400, record_truth=True, paused=True) as sim,
        start_recorder(sim) as running,
    ):
        await start_market(sim, running)
        dropped = 0
        for drop in range(6):
            await asyncio.sleep(2.0)
            if drop == 5:  # a reconnect can beat the next trade and diff; this one surely loses
                for symbol in SYMBOLS:
                    sim.faults.silence(f"{symbol.lower()}@aggTrade", 0.5)
                    sim.faults.silence(f"{symbol.lower()}@depth@100ms", 0.5)
            dropped += sim.faults.drop_connections()
        await settle(sim, running, db)

    assert dropped >= 6
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    await assert_depth_explained(db, sim.truth, SYMBOLS)
    holes = await assert_trade_gaps_repaired(db)
    kinds = await event_kinds(db)
    assert kinds["disconnect"] >= dropped
    assert kinds["connect"] >= dropped + 2
    assert holes >= 1 and kinds["backfill"] == holes
    assert kinds["resync"] >= 1


async def test_backfill_waits_out_429_then_418_and_completes(db, start_recorder):
    symbol = SYMBOLS[0]
    async with (
        Simulator([symbol], seed=37, rate=400, record_truth=True, paused=True) as sim,
        start_recorder(sim) as running,
    ):
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        sim.faults.rest_error(429, 1, "/fapi/v1/aggTrades", retry_after=2)
        sim.faults.rest_error(418, 1, "/fapi/v1/aggTrades", retry_after=3)
        sim.faults.silence(f"{symbol.lower()}@aggTrade", 1.0)  # a hole of about 1 s of trades

        async def backfilled() -> bool:
            return bool(
                await db.fetchval("SELECT count(*) FROM recorder_events WHERE kind = 'backfill'")
            )

        await eventually(backfilled, 30, "the backfill")
        budget = running.recorder.budget
        await settle(sim, running, db)

    await assert_agg_trades_exact(db, sim.truth, [symbol])
    gap = await db.fetchrow(
        "SELECT status, first_id, last_id, resolved_at - detected_at AS took, details"
        " FROM data_gaps WHERE stream = 'agg_trades'"
    )
    assert gap["status"] == "repaired" and gap["last_id"] >= gap["first_id"]
    # grace 2 s, then the 429 (Retry-After 2 s), then the 418 (ban over after 3 s), then the page
    assert gap["took"].total_seconds() >= 6.5
    limited = await db.fetch(
        "SELECT stream, (details->>'status')::int AS status, (details->>'retry_after')::float AS ra"
        " FROM recorder_events WHERE kind = 'rest_limited' ORDER BY time"
    )
    # only the two injected answers: the recorder itself never ran over the weight limit
    assert [(r["stream"], r["status"], r["ra"]) for r in limited] == [
        ("/fapi/v1/aggTrades", 429, 2.0),
        ("/fapi/v1/aggTrades", 418, 3.0),
    ]
    assert budget.used <= budget.limit * budget.headroom
    await assert_depth_explained(db, sim.truth, [symbol])


async def test_connections_roll_over_before_the_cut_with_no_hole(db, start_recorder):
    async with (
        Simulator(SYMBOLS, seed=41, rate=400, record_truth=True, paused=True) as sim,
        start_recorder(sim, CONNECTION_MAX_AGE="2") as running,  # 3 s to spare on a busy box
    ):
        sim.faults.shorten_connection_age(5)  # the "24 h" cut, shortened
        await start_market(sim, running)
        await asyncio.sleep(13)
        connects = sum(c.connects for c in running.recorder.connections)
        await settle(sim, running, db)

    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    assert await assert_depth_explained(db, sim.truth, SYMBOLS) == 0, "a depth gap at a rollover"
    assert await assert_trade_gaps_repaired(db) == 0, "an aggTrade hole at a rollover"
    kinds = await event_kinds(db)
    n_conns = len(running.recorder.connections)
    assert kinds["rollover"] >= 3 * n_conns
    assert connects >= 4 * n_conns
    assert kinds["disconnect"] == 0, "a connection reached the exchange's cut"
