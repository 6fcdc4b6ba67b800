"""``python main.py flatten``: the kill switch.

Cancels every open order and algo order whose client id is Flowline's (``fl-...``) and closes, with
reduce-only MARKET orders, every position the executor's tables say Flowline opened. Other orders
and positions on the account are left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from db.connect import create_pool
from settings import Settings, SettingsError
from strategy.binance.config import BinanceConfig
from strategy.binance.errors import BinanceError
from strategy.binance.executor import BinanceExecutor

log = logging.getLogger(__name__)


async def flatten(config: BinanceConfig, database_url: str, reason: str) -> int:
    pool = await create_pool(database_url, application_name="flowline-flatten")
    try:
        executor = await BinanceExecutor.connect(config, pool)
        try:
            await executor.flatten(reason)
            left = executor.open_symbols()
        finally:
            await executor.close()
    finally:
        await pool.close()
    if left:
        log.error("flatten: positions still open on %s", ", ".join(sorted(left)))
        return 1
    log.warning("flatten: done; no Flowline orders or positions remain")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python main.py flatten",
        description="Cancel all Flowline orders and close all Flowline positions on Binance.",
    )
    parser.add_argument("--reason", default="manual kill switch")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.from_env()
        config = BinanceConfig.from_env()
    except SettingsError as exc:
        print(f"flatten: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(flatten(config, settings.database_url, args.reason))
    except BinanceError as exc:
        print(f"flatten: {exc}", file=sys.stderr)
        return 1
