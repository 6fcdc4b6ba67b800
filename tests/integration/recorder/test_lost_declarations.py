"""A hole whose declaration died with the recorder is declared at the next start (issue 15).

A hole's ``gap`` row goes through the recorder_events writer, the rows around it through their
table's writer: a ``kill -9`` after the rows are committed and before the gap row is leaves a
hole nobody declares. Here it is made deterministic: recorder_events is locked (its writer waits,
the other tables' writers go on), an aggTrade hole and a depth break are made, and the recorder
is killed before anything can declare or backfill them (every aggTrades REST call answers 429).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_env
from tests.integration.recorder.invariants import (
    DEPTH_SPEED_MS,
    assert_agg_trades_exact,
    assert_depth_explained,
    eventually,
    settle_process,
    start_market_for_process,
)
from tests.integration.recorder.recorder_process import RecorderProcess

SYMBOL = "BTCUSDT"


async def _started(db: asyncpg.Connection, n: int) -> None:
    async def seen() -> bool:
        return await db.fetchval("SELECT count(*) FROM recorder_events WHERE kind = 'start'") >= n

    await eventually(seen, 30, f"recorder start #{n}")


def _missing_before_stored(sent: list[int], stored: set[int]) -> list[int]:
    """Ids the simulator sent that are not stored although a later one is: holes."""
    newest = max(stored, default=0)
    return [i for i in sent if i not in stored and i < newest]


async def _holes_stored(db: asyncpg.Connection, sim: Simulator) -> bool:
    trades = {r[0] for r in await db.fetch("SELECT agg_trade_id FROM agg_trades")}
    diffs = {r[0] for r in await db.fetch("SELECT final_update_id FROM depth_updates")}
    sent_trades = [t["a"] for t in sim.truth.agg_trades[SYMBOL]]
    sent_diffs = [d["u"] for d in sim.truth.depth_events[SYMBOL, DEPTH_SPEED_MS]]
    return bool(
        _missing_before_stored(sent_trades, trades) and _missing_before_stored(sent_diffs, diffs)
    )


async def test_a_hole_whose_gap_row_died_with_the_recorder_is_declared_at_start(
    db, database_url: str, tmp_path: Path
):
    async with Simulator([SYMBOL], seed=61, rate=400, record_truth=True, paused=True) as sim:
        env = recorder_env(database_url, sim, tmp_path / "spool")
        async with RecorderProcess(env, tmp_path / "recorder.log") as recorder:
            await recorder.start()
            await _started(db, 1)
            await start_market_for_process(sim)
            await asyncio.sleep(1.5)
            locker = await asyncpg.connect(database_url)
            try:
                tx = locker.transaction()
                await tx.start()
                # the recorder_events writer waits on this lock; the data writers go on
                await locker.execute("LOCK TABLE recorder_events IN EXCLUSIVE MODE")
                sim.faults.rest_error(429, 100_000, "/fapi/v1/aggTrades", retry_after=1)
                sim.faults.silence(f"{SYMBOL.lower()}@aggTrade", 1.0)
                sim.faults.skip_depth_ids(SYMBOL, 3)
                await eventually(lambda: _holes_stored(db, sim), 20, "rows stored past both holes")
                await recorder.kill()
                await tx.rollback()
            finally:
                await locker.close()
            sim.faults.clear()
            # the scenario: the holes are in the tables and no gap row declares them
            assert await db.fetchval("SELECT count(*) FROM recorder_events WHERE kind = 'gap'") == 0
            await recorder.start()
            await _started(db, 2)
            await settle_process(sim, recorder, db)

    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
    await assert_depth_explained(db, sim.truth, [SYMBOL])
    found = await db.fetch(
        "SELECT stream, status FROM data_gaps WHERE details ->> 'reason' = 'undeclared at start'"
    )
    assert {(g["stream"], g["status"]) for g in found} == {
        ("agg_trades", "repaired"),
        ("depth_updates", "resynced"),
    }
