"""Run the real recorder in-process against an in-process simulator and the test database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.cli import Recorder, run_recorder
from settings import Settings
from sim.server import Simulator
from tests.integration.recorder.tcp_proxy import TcpProxy


def recorder_settings(database_url: str, sim: Simulator, spool: Path, **env: str) -> Settings:
    return Settings.from_env(recorder_env(database_url, sim, spool, **env), dotenv=False)


def recorder_env(database_url: str, sim: Simulator, spool: Path, **env: str) -> dict[str, str]:
    """The recorder's environment for a test: the simulator, the test database, quick batches."""
    base = {
        "DATABASE_URL": database_url,
        "BINANCE_WS_URL": sim.ws_url,
        "BINANCE_REST_URL": sim.http_url,
        "SYMBOLS": ",".join(sim.symbols),
        "METRICS_PORT": "0",
        "SPOOL_DIR": str(spool),
        "BATCH_MAX_MS": "50",
        "OI_POLL_INTERVAL": "1",
        "BOOK_TOP_INTERVAL": "0.5",
        "DEPTH_SNAPSHOT_INTERVAL": "0",
    }
    return base | env


@dataclass
class Running:
    recorder: Recorder
    stop: asyncio.Event
    task: asyncio.Task

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
def start_recorder(
    database_url: str, tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    @contextlib.asynccontextmanager
    async def start(sim: Simulator, **env: str) -> AsyncIterator[Running]:
        settings = recorder_settings(database_url, sim, tmp_path / "spool", **env)
        stop = asyncio.Event()
        ready: asyncio.Future[Recorder] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_recorder(settings, stop, on_ready=ready.set_result))
        done, _ = await asyncio.wait([task, ready], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises the start-up error
        running = Running(ready.result(), stop, task)
        try:
            yield running
        finally:
            if not task.done():
                await running.finish()

    return start


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    """A cuttable link to the test database (``proxy.url(database_url)``)."""
    p = TcpProxy.for_url(database_url)
    await p.start()
    try:
        yield p
    finally:
        await p.close()
