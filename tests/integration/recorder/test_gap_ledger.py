"""The gap ledger never claims more than the database holds (issue 15, case 1)."""

from __future__ import annotations

import asyncio

import asyncpg

from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    eventually,
    settle,
    start_market,
)
from tests.sim_fixtures import make_simulator

SYMBOL = "BTCUSDT"


async def _trade_gaps(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT first_id, last_id, status, ref FROM data_gaps WHERE stream = 'agg_trades'"
    )


async def _drop_and_wait_for_a_hole(sim: Simulator, running, db: asyncpg.Connection) -> None:
    conns = running.recorder.connections
    await wait_until(lambda: all(c.last_frame for c in conns), 15, "frames")
    await asyncio.sleep(1.5)  # enough trades before and after the hole to prove something
    for _ in range(5):  # a reconnect can beat the next trade (no id missed): cut again then
        assert sim.faults.drop_connections(route="market") >= 1
        for _ in range(30):
            await asyncio.sleep(0.1)
            if await _trade_gaps(db):
                return
    raise AssertionError("five drops made no aggTrade gap")


async def test_a_gap_is_repaired_only_once_its_rows_are_committed(db, database_url, start_recorder):
    sim = make_simulator(symbols=[SYMBOL], seed=31, rate=400)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        locker = await asyncpg.connect(database_url)
        try:
            # agg_trades takes no insert (other tables do) until the lock is released
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE agg_trades IN EXCLUSIVE MODE")
            await _drop_and_wait_for_a_hole(sim, running, db)
            for _ in range(40):  # 4 s: past the backfill's grace period and its REST fetch
                gaps = await _trade_gaps(db)
                assert all(g["status"] == "open" for g in gaps), [dict(g) for g in gaps]
                await asyncio.sleep(0.1)
            await tx.rollback()
        finally:
            await locker.close()
        await settle(sim, running, db)
    gaps = await _trade_gaps(db)
    assert gaps and all(g["status"] == "repaired" for g in gaps)
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])


async def test_a_restart_re_verifies_repaired_gaps_against_the_stored_ids(db, start_recorder):
    sim = make_simulator(symbols=[SYMBOL], seed=33, rate=400)
    async with sim:
        async with start_recorder(sim) as running:
            await start_market(sim, running)
            await _drop_and_wait_for_a_hole(sim, running, db)
            await settle(sim, running, db)
        gaps = await _trade_gaps(db)
        assert gaps and all(g["status"] == "repaired" for g in gaps)
        # what a crash between the two commits left before the fix: the ledger says repaired,
        # the rows are not there
        for g in gaps:
            await db.execute(
                "DELETE FROM agg_trades WHERE symbol = $1 AND agg_trade_id BETWEEN $2 AND $3",
                SYMBOL,
                g["first_id"],
                g["last_id"],
            )
        produced = {t["a"] for t in sim.truth.agg_trades[SYMBOL]}

        async def all_stored() -> bool:
            n = await db.fetchval("SELECT count(*) FROM agg_trades WHERE symbol = $1", SYMBOL)
            return n == len(produced)

        async with start_recorder(sim) as running:  # the market stays paused: REST only
            await eventually(all_stored, 20, "the re-verified gaps fetched again")
            await running.finish()
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
    assert all(g["status"] == "repaired" for g in await _trade_gaps(db))


async def test_many_429s_in_a_row_only_delay_the_backfill(db, start_recorder):
    """Case 6: nine 429s (more than one request's eight attempts) and the hole is still repaired:
    the ids are within Binance's 48 h window, so nothing is given up."""
    sim = make_simulator(symbols=[SYMBOL], seed=35, rate=400)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        sim.faults.rest_error(429, 9, "/fapi/v1/aggTrades", retry_after=1)
        sim.faults.silence(f"{SYMBOL.lower()}@aggTrade", 1.0)  # a hole of about 1 s of trades
        await asyncio.sleep(1.2)
        await settle(sim, running, db)
    gaps = await _trade_gaps(db)
    assert gaps and all(g["status"] == "repaired" for g in gaps), [dict(g) for g in gaps]
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
