"""Issue 5, ``kill -9`` of the recorder process three times during a run (once while the
database is away, so its spool has to survive the restart): afterwards every aggTrade is stored
once (the missed ones backfilled on start), each restart's depth gap is recorded and resynced
from a fresh snapshot, and the spool was replayed."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg

from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_env
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    assert_trade_gaps_repaired,
    event_kinds,
    eventually,
    settle_process,
    start_market_for_process,
)
from tests.integration.recorder.recorder_process import RecorderProcess
from tests.integration.recorder.tcp_proxy import TcpProxy

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


async def _started(db: asyncpg.Connection, n: int) -> None:
    async def seen() -> bool:
        return await db.fetchval("SELECT count(*) FROM recorder_events WHERE kind = 'start'") >= n

    await eventually(seen, 30, f"recorder start #{n}")


async def test_kill_9_three_times_loses_no_trade_and_records_every_depth_gap(
    db, database_url: str, proxy: TcpProxy, tmp_path: Path
):
    rng = random.Random(2026)  # "random-ish" kill moments, the same in every run
    spool = tmp_path / "spool"
    spool_at_kill: list[Path] = []
    async with Simulator(SYMBOLS, seed=53, rate=600, record_truth=True, paused=True) as sim:
        env = recorder_env(proxy.url(database_url), sim, spool)
        async with RecorderProcess(env, tmp_path / "recorder.log") as recorder:
            await recorder.start()
            await _started(db, 1)
            await start_market_for_process(sim)
            for kill in (1, 2, 3):
                await asyncio.sleep(rng.uniform(1.5, 4.0))
                if kill == 2:  # the database goes away and the recorder dies while spooling
                    await proxy.cut()
                    await asyncio.sleep(2.0)
                await recorder.kill()
                if kill == 2:
                    spool_at_kill = sorted(spool.glob("*/*.rows"))
                    await proxy.restore()
                await asyncio.sleep(rng.uniform(0.5, 1.5))  # down: trades and diffs go by
                await recorder.start()
                await _started(db, kill + 1)
            await settle_process(sim, recorder, db)

    assert spool_at_kill, "nothing was spooled while the database was away"
    assert sorted(spool.glob("*/*")) == [], "the spool was not replayed after the restart"
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    depth_gaps = await assert_depth_explained(db, sim.truth, SYMBOLS)
    assert depth_gaps >= 3 * len(SYMBOLS), "each restart is a recorded depth gap per symbol"
    trade_gaps = await assert_trade_gaps_repaired(db)
    assert trade_gaps >= 3 * len(SYMBOLS)
    resync_snapshots = await db.fetchval(
        "SELECT count(*) FROM depth_snapshots WHERE reason = 'resync'"
    )
    assert resync_snapshots >= 3 * len(SYMBOLS)
    kinds = await event_kinds(db)
    assert kinds["start"] == 4 and kinds["stop"] == 1
    assert kinds["spool"] >= 1 and kinds["replay"] >= 1
    assert kinds["resync"] >= 3 * len(SYMBOLS)
