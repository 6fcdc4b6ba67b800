"""Issue 21, done when: three recorder processes share 30 simulated symbols through leases; one
is killed with ``kill -9``; within the lease timeout the other two take its symbols over and
record them again, and every aggTrade the simulator made is stored exactly once (the time nobody
held the symbols backfilled), every depth diff stored or inside a declared, resynced gap, and the
open interest nobody sampled meanwhile declared by the new owner."""

from __future__ import annotations

import asyncio
import string
import time
from pathlib import Path

import asyncpg

from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_env, wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    assert_trade_gaps_repaired,
    eventually,
    no_open_gaps,
)
from tests.integration.recorder.recorder_process import RecorderProcess
from tests.integration.recorder.test_leases import held

SYMBOLS = [f"{a}{b}XUSDT" for a in "ABC" for b in string.ascii_uppercase[:10]]
LEASE_TIMEOUT = 3.0
OI_INTERVAL = 3.0


def _owner_of(pid: int, owners: dict[str, list[str]]) -> str:
    return next(o for o in owners if o.split(":")[1] == str(pid))


async def _recorded_since(db: asyncpg.Connection, symbols: list[str], since: float) -> bool:
    recent = await db.fetchval(
        "SELECT count(DISTINCT symbol) FROM agg_trades"
        " WHERE symbol = ANY($1) AND received_at > to_timestamp($2)",
        symbols,
        since,
    )
    return recent == len(symbols)


async def _open_interest_silences_undeclared(
    db: asyncpg.Connection, symbols: list[str], killed: float
) -> list[str]:
    """Per symbol, the two stored samples around the kill: the silence between them (the lease
    timeout at least) must lie inside a declared open-interest gap."""
    rows = await db.fetch(
        """WITH around AS (
               SELECT symbol, max(time) FILTER (WHERE received_at < to_timestamp($2)) AS before,
                      min(time) FILTER (WHERE received_at >= to_timestamp($2)) AS after
               FROM open_interest WHERE symbol = ANY($1) GROUP BY symbol)
           SELECT a.symbol FROM around a
           WHERE a.before IS NOT NULL AND a.after IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM data_gaps g WHERE g.stream = 'open_interest' AND g.symbol = a.symbol
                 AND g.start_time <= a.before AND g.end_time >= a.after)""",
        symbols,
        killed,
    )
    return [r["symbol"] for r in rows]


async def test_three_recorders_share_30_symbols_and_take_over_a_killed_ones(
    db, database_url: str, tmp_path: Path
):
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    sim = Simulator(
        SYMBOLS, seed=2121, rate=600, record_truth=True, paused=True, weight_limit=1_000_000
    )
    async with sim:
        recorders = []
        for i in range(3):
            env = recorder_env(
                database_url,
                sim,
                tmp_path / f"spool{i}",
                LEASES="on",
                LEASE_TIMEOUT=str(LEASE_TIMEOUT),
                OI_POLL_INTERVAL=str(OI_INTERVAL),
            )
            recorders.append(RecorderProcess(env, tmp_path / f"recorder{i}.log"))
        try:
            for r in recorders:
                await r.start()

            async def shared() -> bool:
                return sorted(len(s) for s in (await held(db)).values()) == [10, 10, 10]

            await eventually(shared, 40, "ten symbols per recorder")
            await wait_until(lambda: len(sim.hub.open) >= 6, 20, "every recorder to connect")
            await asyncio.sleep(1.0)  # the subscriptions are registered right after the handshake
            sim.resume()
            await asyncio.sleep(3.0)

            victim = recorders[1]
            owners = await held(db)
            dead = _owner_of(victim.pid, owners)
            orphans = owners.pop(dead)
            await victim.kill()
            killed = time.time()

            async def taken_over() -> bool:
                now = await held(db)
                alive = [s for owner, syms in now.items() if owner != dead for s in syms]
                return sorted(alive) == sorted(SYMBOLS)

            await eventually(taken_over, 3 * LEASE_TIMEOUT, "the killed recorder's symbols")
            took = time.time() - killed
            # expiry, then the next beat of a survivor (plus slack for a loaded machine)
            assert took <= LEASE_TIMEOUT + LEASE_TIMEOUT / 3 + 5.0, f"taken over after {took:.1f}s"
            assert sorted(len(s) for s in (await held(db)).values()) == [15, 15]
            await eventually(
                lambda: _recorded_since(db, orphans, killed + took), 15, "its symbols recorded"
            )
            await asyncio.sleep(3.0)  # every symbol trades again: any hole left is visible
            sim.pause()
            await asyncio.sleep(0.5)
            await eventually(lambda: no_open_gaps(db), 60, "every hole backfilled or resynced")
            for r in (recorders[0], recorders[2]):
                assert await r.stop() == 0, r.output()[-3000:]
        finally:
            for r in recorders:
                await r.__aexit__(None, None, None)

    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    await assert_depth_explained(db, sim.truth, SYMBOLS)
    assert await _open_interest_silences_undeclared(db, orphans, killed) == []
    trade_gaps = await assert_trade_gaps_repaired(db)
    assert trade_gaps >= 1, "the killed recorder's symbols had trades nobody received"
    print(f"takeover after {took:.2f}s; {trade_gaps} aggTrade holes backfilled")
