"""Holes no REST endpoint can fill are declared (issue 23: the soak's undeclared events).

Each test applies one of the soak's faults and counts with the soak's own ledger
(``bench/soak_ledger.py``): every event the simulator emitted that is not stored must lie inside a
declared ``data_gaps`` range of its stream.
"""

from __future__ import annotations

import asyncio

import asyncpg

from bench.soak_ledger import StreamCount, Windows, account
from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import settle, start_market
from tests.sim_fixtures import make_simulator

SYMBOL = "BTCUSDT"


async def counted(
    db: asyncpg.Connection, sim: Simulator, windows: Windows
) -> dict[str, StreamCount]:
    return {c.stream: c for c in await account(db, {"usdm": sim.truth}, windows)}


async def test_one_mark_price_lost_to_a_malformed_frame_is_declared(db, start_recorder):
    """A 2 s silence (one markPrice@1s frame cut in half) is a hole; it used to take 3 s."""
    sim = make_simulator(symbols=[SYMBOL], seed=71, rate=200)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        windows: Windows = {("usdm", SYMBOL): [(sim.now + 1000, 0)]}
        await asyncio.sleep(2.0)
        sim.faults.malformed_frames(1, "!markPrice@arr@1s")
        await asyncio.sleep(3.0)
        windows["usdm", SYMBOL][0] = (windows["usdm", SYMBOL][0][0], sim.now)
        await settle(sim, running, db)
    marks = (await counted(db, sim, windows))["mark_prices"]
    assert marks.lost >= 1 and marks.undeclared == 0, marks


async def test_mark_prices_missed_across_a_restart_are_declared(db, start_recorder):
    """The recorder is down for 3 s: the restarted one reads the newest stored mark price and
    declares the silence since (it knew no mark price before its first one)."""
    sim = make_simulator(symbols=[SYMBOL], seed=72, rate=200)
    async with sim:
        async with start_recorder(sim) as running:
            await start_market(sim, running)
            windows: Windows = {("usdm", SYMBOL): [(sim.now + 1000, 0)]}
            await asyncio.sleep(2.0)
        await asyncio.sleep(3.0)  # down: the market goes on
        async with start_recorder(sim) as running:
            conns = running.recorder.connections
            await wait_until(lambda: all(c.last_frame for c in conns), 15, "frames again")
            await asyncio.sleep(2.0)
            windows["usdm", SYMBOL][0] = (windows["usdm", SYMBOL][0][0], sim.now)
            await settle(sim, running, db)
    marks = (await counted(db, sim, windows))["mark_prices"]
    assert marks.lost >= 2 and marks.undeclared == 0, marks


async def test_open_interest_polls_a_ban_prevents_are_declared(db, start_recorder):
    """A 418 ban of 25 s: no open interest can be asked for, so at least one 15 s slot has no
    sample; the silence is declared once polling resumes (it used to be only logged)."""
    sim = make_simulator(symbols=[SYMBOL], seed=73, rate=200)
    async with sim, start_recorder(sim, OI_POLL_INTERVAL="1") as running:
        await start_market(sim, running)
        windows: Windows = {("usdm", SYMBOL): [(sim.now + 1000, 0)]}
        await asyncio.sleep(3.0)
        sim.faults.rest_error(418, 1, path="/fapi/v1/openInterest", retry_after=25)
        await asyncio.sleep(32.0)
        windows["usdm", SYMBOL][0] = (windows["usdm", SYMBOL][0][0], sim.now)
        await settle(sim, running, db)
    oi = (await counted(db, sim, windows))["open_interest"]
    assert oi.lost >= 1 and oi.undeclared == 0, oi
