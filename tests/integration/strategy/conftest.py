"""Record a scripted simulator session with the real recorder into the test database.

Strategy tests then read it back, as a user's backtest or live worker would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from collector.cli import Recorder, run_recorder
from settings import HYPERTABLES
from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_settings, wait_until
from tests.integration.recorder.invariants import subscribed
from tests.sim_fixtures import make_simulator


@dataclass
class Session:
    start_ms: int  # simulated time when the market started moving
    end_ms: int
    episodes: list[dict[str, Any]]
    symbols: list[str]


async def record(
    database_url: str,
    spool: Path,
    script: dict[str, Any],
    seconds: float,
    symbols: list[str],
    speed: float = 10.0,
    on_running: Callable[[Simulator, Recorder], Awaitable[None]] | None = None,
    venues: str = "binance",
    **sim_options: Any,
) -> Session:
    """Run the simulator for `seconds` of simulated time with the recorder attached, recording
    `venues` (with "bybit": the simulator's Bybit market, `bybit_symbols` or `symbols`)."""
    if "bybit" in venues:
        sim_options.setdefault("bybit_symbols", symbols)
    sim = make_simulator(symbols=symbols, script=script, speed=speed, **sim_options)
    await sim.start()
    stop = asyncio.Event()
    try:
        env = _venue_env(sim, venues, sim_options.get("bybit_symbols", ()))
        settings = recorder_settings(database_url, sim, spool, **env)
        ready: asyncio.Future[Recorder] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_recorder(settings, stop, on_ready=ready.set_result))
        await asyncio.wait([task, ready], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        recorder = ready.result()
        await subscribed(recorder.connections)  # the market moves only once it can be seen
        if recorder.bybit is not None:  # its books start from the snapshot sent on subscribe
            books = recorder.bybit.handler.books.values()
            await wait_until(lambda: all(b.synced for b in books), 20, "Bybit's first snapshots")
        start = sim.now
        sim.resume()
        if on_running is not None:
            await on_running(sim, recorder)
        await wait_until(lambda: sim.now - start >= seconds * 1000, seconds / speed * 3 + 30,
                         "the simulated session")  # fmt: skip
        sim.pause()
        await asyncio.sleep(1.0)  # the last frames and the last batch
        stop.set()
        await asyncio.wait_for(task, 30)
        return Session(start, sim.now, sim.episodes(), symbols)
    finally:
        stop.set()
        await sim.stop()


def _venue_env(sim: Simulator, venues: str, bybit_symbols: list[str]) -> dict[str, str]:
    if "bybit" not in venues:
        return {}
    return {
        "VENUES": venues,
        "BYBIT_WS_URL": sim.bybit_ws_url,
        "BYBIT_REST_URL": sim.http_url,
        "BYBIT_SYMBOLS": ",".join(bybit_symbols),
        "BYBIT_DEPTH": "50",
    }


STRATEGY_TABLES = ("fills", "positions", "signals", "strategy_state")


@pytest.fixture
async def strategy_db(database_url: str) -> str:
    """The session database with every recorded and strategy table emptied (sessions of the
    simulator start at the same simulated time, so tests must not see each other's rows)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"TRUNCATE {', '.join(HYPERTABLES + STRATEGY_TABLES)}")
    finally:
        await conn.close()
    return database_url


@pytest.fixture
def record_session(strategy_db: str, tmp_path: Path) -> Callable[..., Awaitable[Session]]:
    """`await record_session(script, seconds, symbols=[...], speed=10, **sim_options)` into
    `strategy_db`."""

    async def run(script: dict[str, Any], seconds: float, **options: Any) -> Session:
        symbols = options.pop("symbols", ["BTCUSDT"])
        return await record(strategy_db, tmp_path / "spool", script, seconds, symbols, **options)

    return run
