"""A recorded session for the Grafana tests: the demo's script on two symbols with the recorder
and a paper-trading strategy worker attached, so every table a panel reads has rows: trades,
book samples, mark prices, liquidations, open interest, indicator bars, signals accepted and
refused, positions open and closed, fills."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import asyncpg

from strategy.cli import run_strategy
from strategy.config import PaperParams, RiskParams
from strategy.worker import Worker
from tests.integration.recorder.conftest import wait_until
from tests.integration.strategy.conftest import record
from tests.integration.strategy.test_signals_only import CONFIG as SIGNALS_ONLY
from tests.integration.strategy.test_worker import SYMBOLS

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = json.loads((ROOT / "sim" / "scripts" / "demo.json").read_text())
SECONDS = 200  # the script's panic, absorption, wall and breakout once
# The signals-only test's chatty strategies, paper-traded, one position at a time and a 20 s
# time exit: positions open, end and are refused (max_concurrent) many times.
CONFIG = replace(
    SIGNALS_ONLY,
    executor="paper",
    paper=PaperParams(max_hold_ms=20_000),
    risk=RiskParams(cooldown_ms=10_000, max_concurrent=1),
)


async def record_with_worker(database_url: str, spool: Path) -> None:
    """Record SECONDS of the script into ``database_url`` with the worker running live, and wait
    until the worker has processed every recorded bar."""
    stop = asyncio.Event()
    workers: list[Worker] = []
    tasks: list[asyncio.Task] = []

    async def start_worker(sim, recorder) -> None:
        ready = lambda worker, port: workers.append(worker)  # noqa: E731
        tasks.append(asyncio.create_task(run_strategy(database_url, CONFIG, stop, ready)))

    await record(database_url, spool, SCRIPT, SECONDS, list(SYMBOLS), speed=10,
                 on_running=start_worker)  # fmt: skip
    conn = await asyncpg.connect(database_url)
    try:
        newest = await conn.fetchval(
            "SELECT least((SELECT max(time) FROM agg_trades),"
            " (SELECT max(time) FROM depth_updates))"
        )
    finally:
        await conn.close()
    final_ms = int(newest.timestamp() * 1000) // 1000 * 1000
    await wait_until(lambda: (workers[0].state.processed_ms or 0) >= final_ms, 60, "the worker")
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
