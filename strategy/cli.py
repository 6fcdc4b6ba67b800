"""``python main.py strategy [--config FILE]``: the live strategy worker.

Reads only the recorded tables; paper-trades by default (EXECUTION=off|paper|binance). A lost
database connection restarts the worker from its last committed bar after a back-off.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import tenacity

from collector import health
from collector.cli import run_with_settings
from db.connect import DatabaseUnavailable
from settings import Settings, SettingsError
from strategy.config import StrategyConfig, load_config
from strategy.worker import Worker

log = logging.getLogger("flowline.strategy")
# InterfaceError: a query on a connection the database side closed (a cut link, a restart)
RESTARTABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, DatabaseUnavailable)
STALE_AFTER_S = 120.0  # /health says 503 when no step committed for this long while data flows


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py strategy", description=__doc__)
    parser.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("STRATEGY_CONFIG") or None,
        help="TOML file (default: $STRATEGY_CONFIG, else built-in defaults)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except SettingsError as exc:
        print(f"error: {exc}")
        return 1
    return run_with_settings(lambda settings: _run_until_signal(settings, config))


async def _run_until_signal(settings: Settings, config: StrategyConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_strategy(settings.database_url, config, stop)


async def run_strategy(
    dsn: str,
    config: StrategyConfig,
    stop: asyncio.Event,
    on_ready: Callable[[Worker, int], Any] | None = None,
) -> None:
    """Run workers until `stop`; a database failure restarts one after a capped back-off."""
    worker = Worker(config, dsn)
    app = health.build_app(lambda: _report(worker))
    runner, port = await health.start(app, config.metrics_host, config.metrics_port)
    if on_ready is not None:
        on_ready(worker, port)
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type(RESTARTABLE),
        wait=tenacity.wait_exponential_jitter(initial=1, max=30),
        before_sleep=lambda state: log.warning(
            "strategy worker stopped (%s); restarting from its last committed bar",
            state.outcome.exception() if state.outcome else "?",
        ),
    )
    try:
        async for attempt in retrying:
            with attempt:
                if stop.is_set():
                    break
                await worker.run(stop)
    finally:
        await runner.cleanup()


def _report(worker: Worker) -> tuple[bool, dict[str, Any]]:
    s = worker.state
    since = time.monotonic() - s.last_step
    behind = None
    if s.horizon_ms is not None and s.processed_ms is not None:
        behind = round((s.horizon_ms - s.processed_ms) / 1000, 3)
    ok = s.db_ok and since < STALE_AFTER_S
    return ok, {
        "db": "up" if s.db_ok else "down",
        "processed_ms": s.processed_ms,
        "behind_seconds": behind,
        "seconds_since_step": round(since, 3),
        "signals": s.signals,
        "open_positions": s.open_positions,
        "executor": worker.config.executor,
    }
