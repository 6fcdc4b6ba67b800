"""/health under each fault it exists for, a writer task that dies, and what shutdown says
(issue 15, case 7: a writer must never stop without a word, nor shutdown claim a flush that
did not happen)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import aiohttp
import orjson

from runtime import health
from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_env, wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    eventually,
    settle,
    settle_process,
    start_market,
    start_market_for_process,
)
from tests.integration.recorder.recorder_process import RecorderProcess
from tests.integration.recorder.tcp_proxy import TcpProxy
from tests.sim_fixtures import make_simulator

SYMBOL = "BTCUSDT"
STOP_LINE = re.compile(
    r"recorder stopped: the final flush committed (\d+) rows and spooled (\d+) \((\d+) bytes"
    r".*; (\d+) rows lost, (\d+) dropped this run .*rows left in memory: none"
)


async def _health(port: int) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/health") as resp,
    ):
        return resp.status, orjson.loads(await resp.read())


async def test_a_writer_task_that_dies_is_loud_restarted_and_loses_nothing(
    db, start_recorder, caplog
):
    caplog.set_level(logging.WARNING)
    sim = make_simulator(symbols=[SYMBOL], seed=71, rate=300)
    seen: list[tuple[int, bool]] = []  # (/health status, agg_trades listed as down)
    async with sim, start_recorder(sim) as running:
        rec = running.recorder
        port = rec.metrics_port
        assert rec.writer_tasks is not None and port is not None
        await start_market(sim, running)
        writer = rec.writers["agg_trades"]
        await wait_until(lambda: writer.stats.rows_written > 0, 15, "rows written")
        assert (await _health(port))[0] == 200
        dead = rec.writer_tasks.tasks["agg_trades"]
        dead.cancel()  # the task dies from outside: no exception handler of its own sees it
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, body = await _health(port)
            seen.append((status, "agg_trades" in body["writers_down"]))
            if rec.writer_tasks.tasks["agg_trades"] is not dead and status == 200:
                break
            await asyncio.sleep(0.05)
        written = writer.stats.rows_written
        await wait_until(lambda: writer.stats.rows_written > written + 50, 15, "rows again")
        await settle(sim, running, db)

    assert (503, True) in seen, seen  # unhealthy while it was down
    assert seen[-1] == (200, False), seen  # and healthy once restarted
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])  # its queued rows were kept
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("agg_trades: writer task ended (cancelled)" in m for m in logged), logged
    events = await db.fetchval(
        "SELECT count(*) FROM recorder_events WHERE kind = 'writer_error' AND stream = 'agg_trades'"
    )
    assert events == 1


async def test_health_is_503_while_a_stream_is_silent_and_200_when_it_is_back(start_recorder):
    sim = make_simulator(symbols=[SYMBOL], seed=73, rate=300)
    async with sim, start_recorder(sim) as running:
        port = running.recorder.metrics_port
        assert port is not None
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        assert (await _health(port))[0] == 200
        sim.faults.silence(f"{SYMBOL.lower()}@depth@100ms")
        await asyncio.sleep(6.0)
        during = await _health(port)  # below the 10 s limit: still fine
        await asyncio.sleep(5.5)
        stale = await _health(port)
        sim.faults.unsilence(f"{SYMBOL.lower()}@depth@100ms")
        await asyncio.sleep(1.0)
        back = await _health(port)
    assert during[0] == 200, during
    assert stale[0] == 503 and stale[1]["stale"] == [f"depthUpdate:{SYMBOL}"], stale
    assert stale[1]["status"] == "degraded"
    assert back[0] == 200 and back[1]["stale"] == [], back


async def test_health_is_503_once_database_writes_hang_past_the_threshold(
    db, database_url, proxy: TcpProxy, start_recorder
):
    """A database that hangs (no error, no answer) is down as much as one that refuses."""
    sim = make_simulator(symbols=[SYMBOL], seed=75, rate=300)
    async with sim, start_recorder(sim, DATABASE_URL=proxy.url(database_url)) as running:
        port = running.recorder.metrics_port
        assert port is not None
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        before = await _health(port)
        proxy.freeze()
        await asyncio.sleep(health.WRITE_HUNG_AFTER + 3.0)
        early = await _health(port)
        await asyncio.sleep(health.DB_FAILING_THRESHOLD - health.WRITE_HUNG_AFTER - 1.5)
        late = await _health(port)
        proxy.thaw()
        await eventually(lambda: _up(port), 20, "/health ok again")
        await settle(sim, running, db)
    assert before[0] == 200 and before[1]["db"] == "up", before
    assert early[0] == 200 and early[1]["db"] == "retrying", early
    assert late[0] == 503 and late[1]["db"] == "failing", late
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])


async def _up(port: int) -> bool:
    status, body = await _health(port)
    return status == 200 and body["db"] == "up"


async def test_sigterm_while_the_database_hangs_spools_everything_and_says_so(
    db, database_url, proxy: TcpProxy, tmp_path: Path
):
    spool = tmp_path / "spool"
    async with Simulator([SYMBOL], seed=77, rate=400, record_truth=True, paused=True) as sim:
        env = recorder_env(proxy.url(database_url), sim, spool)
        async with RecorderProcess(env, tmp_path / "recorder.log") as recorder:
            await recorder.start()
            await wait_until(lambda: len(sim.hub.open) >= 2, 20, "the recorder to connect")
            await start_market_for_process(sim)
            await asyncio.sleep(2.0)
            proxy.freeze()
            await asyncio.sleep(1.5)  # rows pile up behind writes that never return
            started = time.monotonic()
            assert await recorder.stop(within=40) == 0, recorder.output()[-3000:]
            stop_seconds = time.monotonic() - started
            first_stop = STOP_LINE.findall(recorder.output())
            spooled_files = sorted(spool.glob("*/*.rows"))
            proxy.thaw()
            await recorder.start()
            await settle_process(sim, recorder, db)
            lines = STOP_LINE.findall(recorder.output())

    assert stop_seconds < 30, stop_seconds  # hung writes give up instead of holding the exit
    assert len(first_stop) == 1, recorder.output()[-3000:]
    _, spooled, spool_bytes, lost, dropped = (int(x) for x in first_stop[0])
    assert spooled > 0 and spool_bytes > 0 and spooled_files
    assert (lost, dropped) == (0, 0)
    replayed = await db.fetchval(
        "SELECT sum((details->>'rows')::int) FROM recorder_events WHERE kind = 'replay'"
    )
    assert replayed >= spooled  # all of it written at the next start (with what spooled before)
    assert sorted(spool.glob("*/*")) == []
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
    # the ordinary stop at the end: committed, nothing spooled, nothing lost
    committed, spooled, _, lost, dropped = (int(x) for x in lines[-1])
    assert committed >= 0 and (spooled, lost, dropped) == (0, 0, 0), lines


def _spool_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool.glob("*/*.rows"))


async def test_sigterm_during_an_outage_with_a_full_spool_loses_nothing_undeclared(
    db, database_url, proxy: TcpProxy, tmp_path: Path
):
    """Case 7's scenario: the database away, a 1 MiB spool full, then SIGTERM. What could not be
    kept is counted in the stop line, and after the next start every missing trade is back and
    every missing diff inside a declared gap."""
    spool, symbols = tmp_path / "spool", ["BTCUSDT", "ETHUSDT"]
    async with Simulator(symbols, seed=79, rate=5000, record_truth=True, paused=True) as sim:
        env = recorder_env(proxy.url(database_url), sim, spool, SPOOL_MAX_BYTES=str(1024**2))
        async with RecorderProcess(env, tmp_path / "recorder.log") as recorder:
            await recorder.start()
            await wait_until(lambda: len(sim.hub.open) >= 2, 20, "the recorder to connect")
            await start_market_for_process(sim)
            await asyncio.sleep(1.0)
            await proxy.cut()
            await wait_until(lambda: _spool_bytes(spool) > 900_000, 30, "the spool to fill up")
            await asyncio.sleep(1.0)  # rows beyond the cap are dropped now
            assert await recorder.stop(within=40) == 0, recorder.output()[-3000:]
            stopped = STOP_LINE.findall(recorder.output())
            await proxy.restore()
            await recorder.start()
            await settle_process(sim, recorder, db)

    assert stopped, recorder.output()[-3000:]
    dropped = int(stopped[0][4])
    assert dropped > 0  # said, not "all batches flushed"
    await assert_agg_trades_exact(db, sim.truth, symbols)
    await assert_depth_explained(db, sim.truth, symbols)
