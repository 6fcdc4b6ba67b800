"""Issue 18 item 2: ``RECORDER_PROCESSES=2`` runs two recorder processes that split the symbols
through the leases, each with its own writer, behind one /health and one /metrics; together they
record every aggTrade once and every depth diff (or declare its gap), also across a ``kill -9`` of
one of them (the parent starts it again), and stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_env, wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    eventually,
    no_open_gaps,
)
from tests.integration.recorder.recorder_process import RecorderProcess
from tests.integration.recorder.test_leases import held

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "ADAUSDT"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_two_recorder_processes_record_everything_once_behind_one_health(
    db, database_url: str, tmp_path: Path
):
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    port = _free_port()
    async with Simulator(SYMBOLS, seed=18, rate=400, record_truth=True, paused=True) as sim:
        env = recorder_env(
            database_url,
            sim,
            tmp_path / "spool",
            RECORDER_PROCESSES="2",
            LEASE_TIMEOUT="3",
            METRICS_PORT=str(port),
            OI_POLL_INTERVAL="10",
        )
        async with (
            RecorderProcess(env, tmp_path / "recorder.log") as parent,
            aiohttp.ClientSession() as http,
        ):
            await parent.start()

            async def shared() -> bool:
                return sorted(len(s) for s in (await held(db)).values()) == [3, 3]

            await eventually(shared, 40, "three symbols per process")
            await wait_until(lambda: len(sim.hub.open) >= 4, 20, "both processes to connect")
            await asyncio.sleep(1.0)
            sim.resume()
            await asyncio.sleep(4.0)

            async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                body = await resp.json()
                assert resp.status == 200, body
            assert sorted(body["processes"]) == ["0", "1"]
            streams = [k for p in body["processes"].values() for k in p["streams"]]
            assert sorted({k.split(":")[1] for k in streams}) == sorted(SYMBOLS)
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
            written = {
                s.labels["process"]: s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "flowline_rows_written_total" and s.labels["table"] == "agg_trades"
            }
            assert sorted(written) == ["0", "1"] and all(written.values()), written

            # kill -9 of one recorder process: the parent starts it again, the symbols go round
            os.kill(body["processes"]["1"]["pid"], signal.SIGKILL)

            async def back() -> bool:
                async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                    now = await resp.json()
                pid = now["processes"]["1"]["pid"]
                return resp.status == 200 and pid != body["processes"]["1"]["pid"]

            await eventually(back, 30, "the killed recorder process to be started again")
            await eventually(shared, 30, "the symbols shared by both processes again")
            await asyncio.sleep(3.0)  # every symbol trades again: any hole left is visible
            sim.pause()
            await asyncio.sleep(0.5)
            await eventually(lambda: no_open_gaps(db), 60, "every hole backfilled or resynced")
            assert await parent.stop() == 0, parent.output()[-3000:]

    live = await db.fetchval("SELECT count(*) FROM recorder_members WHERE expires_at > now()")
    assert live == 0, "both processes left the members when they stopped"
    kinds = await db.fetch("SELECT DISTINCT stream FROM data_gaps WHERE stream = 'agg_trades'")
    assert kinds, "the kill left aggTrade holes (all backfilled, see below)"
    await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    await assert_depth_explained(db, sim.truth, SYMBOLS)


async def test_a_process_holding_no_symbol_stays_responsive_and_children_outlive_no_parent(
    db, database_url: str, tmp_path: Path
):
    """One symbol for two processes: one holds nothing. It used to spin in its periodic-snapshot
    round (no symbol, no await), deaf to SIGTERM and its lease heartbeat. Then the parent is
    killed with kill -9: its children stop by themselves, flushing, rather than record on."""
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    port = _free_port()
    async with Simulator(["BTCUSDT"], seed=19, rate=100, record_truth=True) as sim:
        env = recorder_env(
            database_url,
            sim,
            tmp_path / "spool",
            RECORDER_PROCESSES="2",
            LEASE_TIMEOUT="3",
            METRICS_PORT=str(port),
            DEPTH_SNAPSHOT_INTERVAL="60",
        )
        async with (
            RecorderProcess(env, tmp_path / "recorder.log") as parent,
            aiohttp.ClientSession() as http,
        ):
            await parent.start()

            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                        body = await resp.json()
                except aiohttp.ClientError:
                    return False  # not listening yet
                return resp.status == 200 and len(body["processes"]) == 2

            await eventually(healthy, 40, "both processes healthy")
            await asyncio.sleep(4.0)  # past a lease timeout: the idle one must still beat
            assert await healthy(), parent.output()[-3000:]
            async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                children = [p["pid"] for p in (await resp.json())["processes"].values()]
            await parent.kill()

            def gone() -> bool:
                return not any(Path(f"/proc/{pid}").exists() for pid in children)

            try:
                await wait_until(gone, 30, "the children to stop once their parent is gone")
            finally:
                for pid in children:  # a failed run leaves no recorder behind
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
