"""Issue 21: recorders share the universe through leases in the database (LEASES=on).

A recorder alone takes every symbol; one that joins gets its fair share without a restart (the
first gives symbols up); a recorder that stops gives its symbols back and the other takes them,
resuming each from what is stored, so every aggTrade is in the database once.
"""

from __future__ import annotations

import asyncio

import asyncpg

from sim.server import Simulator
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    eventually,
    no_open_gaps,
    start_market,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "ADAUSDT"]
LEASE_ENV = {"LEASES": "on", "LEASE_TIMEOUT": "3", "OI_POLL_INTERVAL": "10"}


async def held(db: asyncpg.Connection) -> dict[str, list[str]]:
    """owner -> symbols it holds now, as psql shows them."""
    rows = await db.fetch(
        "SELECT owner, array_agg(symbol ORDER BY symbol) AS symbols FROM recorder_leases"
        " WHERE owner IS NOT NULL AND expires_at > now() GROUP BY owner"
    )
    return {r["owner"]: r["symbols"] for r in rows}


async def test_a_joining_recorder_gets_its_share_and_a_leaving_one_hands_its_symbols_over(
    db, start_recorder
):
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    async with (
        Simulator(SYMBOLS, seed=21, rate=300, record_truth=True, paused=True) as sim,
        start_recorder(sim, **LEASE_ENV) as first,
    ):
        assert sorted(first.recorder.symbols) == sorted(SYMBOLS), "alone, it takes all"
        await start_market(sim, first)
        async with start_recorder(sim, **LEASE_ENV) as second:

            async def shared() -> bool:
                mine = (first.recorder.symbols, second.recorder.symbols)
                return [len(s) for s in mine] == [3, 3]

            await eventually(shared, 15, "three symbols each")
            owned = sorted(first.recorder.symbols + second.recorder.symbols)
            assert owned == sorted(SYMBOLS), "every symbol recorded, each by one recorder"
            in_psql = await held(db)
            assert sorted(map(sorted, in_psql.values())) == sorted(
                map(sorted, (first.recorder.symbols, second.recorder.symbols))
            )
            await asyncio.sleep(1.0)
        # the second stopped cleanly and released its leases: the first takes them back

        async def all_back() -> bool:
            return sorted(first.recorder.symbols) == sorted(SYMBOLS)

        await eventually(all_back, 15, "the first recorder to hold every symbol again")
        await asyncio.sleep(2.0)  # the first trades after the takeover show any hole
        sim.pause()
        await asyncio.sleep(0.5)
        await eventually(lambda: no_open_gaps(db), 30, "every hole backfilled")
    members = await db.fetch("SELECT * FROM recorder_members")
    assert not members, f"a recorder that stops leaves the members: {members}"
    assert await db.fetchval("SELECT count(*) FROM recorder_leases WHERE owner IS NOT NULL") == 0
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
