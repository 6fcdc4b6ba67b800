"""Issue 5, soak: the recorder process at a high rate with every fault mixed, for SOAK_SECONDS
(default 40 s, at most 180 s so ``make test`` stays short). Afterwards the same invariants as the
single-fault scenarios hold, and the recorder's RSS stayed bounded."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

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

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
SOAK_SECONDS = min(180.0, float(os.environ.get("SOAK_SECONDS", "40")))
FAULT_EVERY = 2.5
RSS_LIMIT = 400 * 1024 * 1024

log = logging.getLogger(__name__)


def _faults(sim: Simulator, proxy: TcpProxy) -> list[Callable[[], Awaitable[None]]]:
    """One step per fault; the soak cycles through them."""
    f = sim.faults

    async def drop() -> None:
        f.drop_connections()

    async def skip_depth() -> None:
        f.skip_depth_ids(SYMBOLS[1], 2)

    async def malformed() -> None:
        f.malformed_frames(3)

    async def unknown_fields() -> None:
        f.unknown_fields(not f.extra_fields)

    async def rest_limited() -> None:
        f.rest_error(429, 1, retry_after=1)

    async def silence() -> None:
        f.silence(f"{SYMBOLS[2].lower()}@aggTrade", 1.0)

    async def database_cut() -> None:
        await proxy.cut()
        await asyncio.sleep(3.0)
        await proxy.restore()

    async def slow_rest() -> None:
        f.slow_rest(0.5, count=3)

    return [
        drop,
        skip_depth,
        malformed,
        unknown_fields,
        rest_limited,
        silence,
        database_cut,
        slow_rest,
    ]


@pytest.mark.slow
async def test_soak_with_every_fault_mixed_loses_nothing_and_rss_stays_bounded(
    db, database_url: str, proxy: TcpProxy, tmp_path: Path
):
    rss: list[int] = []
    async with Simulator(SYMBOLS, seed=59, rate=10000, record_truth=True, paused=True) as sim:
        env = recorder_env(proxy.url(database_url), sim, tmp_path / "spool", CONNECTION_MAX_AGE="4")
        sim.faults.shorten_connection_age(6)  # the 24 h cut, shortened: rollovers all along
        async with RecorderProcess(env, tmp_path / "recorder.log") as recorder:
            await recorder.start()
            await start_market_for_process(sim)

            async def recording() -> bool:  # its first trade of each symbol is the start point
                n = await db.fetchval("SELECT count(DISTINCT symbol) FROM agg_trades")
                return n == len(SYMBOLS)

            await eventually(recording, 20, "the first trades")
            frames_before = sim.hub.frames
            started = time.monotonic()
            steps = _faults(sim, proxy)
            i = 0
            # every fault runs at least once, however slowly a loaded machine runs the steps
            while time.monotonic() - started < SOAK_SECONDS or i < len(steps):
                await steps[i % len(steps)]()
                i += 1
                await asyncio.sleep(FAULT_EVERY)
                rss.append(recorder.rss_bytes())
            frames = sim.hub.frames - frames_before
            elapsed = time.monotonic() - started
            sim.faults.clear()
            await settle_process(sim, recorder, db)

    log.info(
        "soak: %.0f s, %d fault steps, %.0f frames/s, recorder RSS %s MB",
        elapsed,
        i,
        frames / elapsed,
        [round(r / 2**20) for r in rss],
    )
    assert frames / elapsed > 1500, "not a high rate"
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    await assert_depth_explained(db, sim.truth, SYMBOLS)
    await assert_trade_gaps_repaired(db)
    kinds = await event_kinds(db)
    for kind in ("disconnect", "gap", "backfill", "resync", "malformed", "rest_limited"):
        assert kinds[kind] >= 1, kind
    for kind in ("spool", "replay", "rollover"):
        assert kinds[kind] >= 1, kind
    # bounded: under the limit, and not still growing in the last third of the run
    third = max(1, len(rss) // 3)
    assert max(rss) < RSS_LIMIT, rss
    assert max(rss[-third:]) <= max(rss[:third]) * 1.3 + 30 * 1024 * 1024, rss
