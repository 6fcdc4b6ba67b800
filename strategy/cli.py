"""``python main.py strategy [--config FILE | --preset NAME]``: the live strategy worker.

Reads only the recorded tables; paper-trades by default (EXECUTION=off|paper|binance, or
binance-spot for the MACD trader's spot deals: strategy/spot/). A lost database connection
restarts the worker from its last committed bar after a back-off.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import tenacity

from db.connect import DatabaseUnavailable
from runtime import health
from runtime.bootstrap import run_with_settings
from settings import Settings, SettingsError
from strategy.binance.config import BinanceConfig
from strategy.config import StrategyConfig, config_path, load_config, presets
from strategy.spot.config import SpotConfig
from strategy.telegram import TelegramConfig
from strategy.worker import Worker

log = logging.getLogger("flowline.strategy")
# a connection lost mid-query is an InterfaceError ("connection is closed"), not a PostgresError
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
    parser.add_argument(
        "--preset",
        help="a ready configuration of one original system (strategy/presets/NAME.toml): "
        + ", ".join(presets()),
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="begin again under this worker_name (after a config change): forget its "
        "watermark, end its open positions",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        Settings.from_env()
        config = load_config(config_path(args.config, args.preset))
        if config.executor == "binance":
            BinanceConfig.from_env()  # the keys, before anything starts
        if config.executor == "binance-spot":
            SpotConfig.from_env()
        TelegramConfig.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_with_settings(lambda settings: _run_until_signal(settings, config, args.reset))


async def _run_until_signal(settings: Settings, config: StrategyConfig, reset: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_strategy(settings.database_url, config, stop, reset=reset)


async def run_strategy(
    dsn: str,
    config: StrategyConfig,
    stop: asyncio.Event,
    on_ready: Callable[[Worker, int], Any] | None = None,
    reset: bool = False,
) -> None:
    """Run workers until `stop`; a database failure restarts one after a capped back-off."""
    worker = Worker(config, dsn, reset)
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
        await worker.close()
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
