"""``python main.py flatten``: the kill switch.

Which side it flattens follows ``EXECUTION``, as the worker's executor does: futures by default
(``binance``, or unset), spot with ``binance-spot``. Futures: cancels every open order and algo
order whose client id is Flowline's (``fl-...``) and closes, with reduce-only MARKET orders, every
position the executor's tables say Flowline opened. Spot: cancels every open order whose client
id is Flowline's spot prefix (``fls-...``) and sells at MARKET what the open deals of
``spot_deals`` hold, recording them as closed with reason ``flatten``. Other orders, positions
and balances on the account are left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from db.connect import create_pool
from settings import Settings, SettingsError
from strategy.binance.config import BinanceConfig
from strategy.binance.errors import BinanceError
from strategy.binance.executor import BinanceExecutor
from strategy.config import EXECUTORS
from strategy.spot.config import SpotConfig
from strategy.spot.executor import SpotExecutor

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


async def flatten_spot(config: SpotConfig, database_url: str, reason: str) -> int:
    pool = await create_pool(database_url, application_name="flowline-flatten")
    try:
        executor = await SpotExecutor.connect(config, pool)
        try:
            log.warning("flatten (spot): %s", reason)
            left = await executor.flatten()
        finally:
            await executor.close()
    finally:
        await pool.close()
    if left:
        names = ", ".join(f"{d.symbol} {d.deal_id}" for d in left)
        log.error("flatten: spot deals still open: %s", names)
        return 1
    log.warning("flatten: done; no Flowline spot orders or open deals remain")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python main.py flatten",
        description="Cancel all Flowline orders and close all Flowline positions on Binance "
        "(futures; spot deals with EXECUTION=binance-spot).",
    )
    parser.add_argument("--reason", default="manual kill switch")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.from_env()  # loads ./.env into the environment too
        execution = os.environ.get("EXECUTION", "").strip() or "binance"
        if execution not in EXECUTORS:
            raise SettingsError(f"EXECUTION={execution!r}: expected one of {', '.join(EXECUTORS)}")
        if execution == "binance-spot":
            job = flatten_spot(SpotConfig.from_env(), settings.database_url, args.reason)
        else:
            job = flatten(BinanceConfig.from_env(), settings.database_url, args.reason)
    except SettingsError as exc:
        print(f"flatten: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(job)
    except BinanceError as exc:
        print(f"flatten: {exc}", file=sys.stderr)
        return 1
