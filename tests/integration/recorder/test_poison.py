"""Poison frames: valid JSON with impossible values (issue 15, cases 2, 3 and 4). Each replaces a
real payload of the simulator's stream, so the recorder must refuse it, count it, and treat it
as a hole: the real trade is backfilled, the real diff's absence is declared and resynced."""

from __future__ import annotations

import asyncio

from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    settle,
    start_market,
)
from tests.sim_fixtures import SIM_EPOCH_MS, make_simulator

SYMBOL = "BTCUSDT"
TRADES = "btcusdt@aggTrade"
DEPTH = "btcusdt@depth@100ms"
POISON_TRADES = (
    {"T": 10**15},  # year 33658: OverflowError in the datetime arithmetic
    {"a": 10**15},  # an absurd id: must not become the sequence's last id
    {"p": "NaN"},
    {"q": "1e999"},  # float() says +Infinity
    {"q": "inf"},
    {"p": "-5"},
)
POISON_DEPTH = (
    {"u": 10**15 + 1},  # must not become the chain's last id
    {"b": [["NaN", "1"]]},
    {"a": [["100", "inf"]]},
)


async def test_poison_frames_are_refused_counted_and_repaired(db, start_recorder):
    sim: Simulator = make_simulator(symbols=[SYMBOL], seed=21, rate=300)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        books = running.recorder.keeper.books
        await wait_until(lambda: books[SYMBOL].valid, 15, "first sync")
        for fields in POISON_TRADES:  # one at a time: each between real trades
            sim.faults.poison_frames(TRADES, fields)
            await wait_until(lambda: TRADES not in sim.faults.poisoned, 10, "the poison sent")
            await asyncio.sleep(0.3)
        for fields in POISON_DEPTH:
            sim.faults.poison_frames(DEPTH, fields)
            await wait_until(lambda: DEPTH not in sim.faults.poisoned, 10, "the poison sent")
            await wait_until(lambda: books[SYMBOL].valid, 15, "the resync")
            await asyncio.sleep(0.3)
        sim.faults.poison_frames("!markPrice@arr@1s", {"p": "Infinity"}, {"E": 10**15})
        await wait_until(lambda: not sim.faults.poisoned, 10, "the mark poison sent")
        await asyncio.sleep(1.5)  # book_top rows after the last resync
        bad = dict(running.recorder.handler.bad.counts)
        await settle(sim, running, db)

    assert bad.get("bad_aggTrade", 0) >= len(POISON_TRADES), bad
    assert bad.get("bad_depthUpdate", 0) >= len(POISON_DEPTH), bad
    assert bad.get("bad_markPriceUpdate", 0) >= 2, bad
    # every real trade is stored once (the replaced ones backfilled), none invented
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
    # every real diff is stored or inside a declared, resynced gap; u = 10**15 + 1 is not stored
    await assert_depth_explained(db, sim.truth, [SYMBOL])
    not_finite = await db.fetchval(
        """
        SELECT (SELECT count(*) FROM agg_trades WHERE NOT (price > 0 AND price < 'Infinity'
                AND qty >= 0 AND qty < 'Infinity'))
             + (SELECT count(*) FROM depth_updates d, unnest(d.bid_prices || d.ask_prices
                || d.bid_qtys || d.ask_qtys) v WHERE NOT (v >= 0 AND v < 'Infinity'))
             + (SELECT count(*) FROM mark_prices WHERE NOT (mark_price < 'Infinity'))
             + (SELECT count(*) FROM book_top b, unnest(b.bid_prices || b.ask_prices) v
                WHERE NOT (v > 0 AND v < 'Infinity'))
        """
    )
    assert not_finite == 0
    # the book was never frozen or poisoned: every book_top row is the simulator's book
    tops = await db.fetch("SELECT last_update_id, bid_prices, ask_qtys FROM book_top")
    assert len(tops) >= 4
    for top in tops:
        truth = sim.book(SYMBOL, top["last_update_id"])
        assert top["bid_prices"] == [float(p) for p, _ in truth["bids"][:20]]
        assert top["ask_qtys"] == [float(q) for _, q in truth["asks"][:20]]
    assert await db.fetchval("SELECT count(*) FROM recorder_events WHERE kind = 'malformed'") >= 1


async def test_ids_that_start_again_begin_a_new_era_and_recording_goes_on(db, start_recorder):
    """Case 9: a second simulator session on the same database (``make demo`` twice) sends ids
    the first one already used, at later times: every trade of both sessions is stored."""
    sessions = []
    for n in range(2):
        sim = make_simulator(
            symbols=[SYMBOL], seed=41, rate=300, start_ms=SIM_EPOCH_MS + n * 600_000
        )
        async with sim, start_recorder(sim) as running:
            await start_market(sim, running)
            await asyncio.sleep(2.0)
            await settle(sim, running, db)
        sessions.append(sim)
    for n, sim in enumerate(sessions):
        produced = {t["a"] for t in sim.truth.agg_trades[SYMBOL]}
        start = SIM_EPOCH_MS + n * 600_000
        stored = await db.fetch(
            "SELECT agg_trade_id FROM agg_trades WHERE symbol = $1 AND time >= to_timestamp($2)"
            " AND time < to_timestamp($2) + interval '10 minutes'",
            SYMBOL,
            start / 1000,
        )
        ids = [r["agg_trade_id"] for r in stored]
        assert len(produced) > 50 and sorted(ids) == sorted(produced), n
    eras = await db.fetch("SELECT stream FROM recorder_events WHERE kind = 'sequence_era'")
    assert {e["stream"] for e in eras} == {"agg_trades", "depth_updates"}
