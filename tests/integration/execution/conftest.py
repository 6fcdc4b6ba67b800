"""Fixtures for the Binance executor against the simulator (real sockets) and the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from tests.integration.execution.helpers import config_for, record_trade, trading_market


@pytest.fixture
async def exchange() -> AsyncIterator[Simulator]:
    async with trading_market(["BTCUSDT", "ETHUSDT"]) as simulator:
        yield simulator


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The session database with the executor's and the worker's tables emptied (a worker's
    watermark carries its config's fingerprint) and fresh trades recorded."""
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert db is not None
    await db.execute(
        "TRUNCATE exchange_orders, exchange_positions, agg_trades, mark_prices, depth_updates,"
        " strategy_state"
    )
    for symbol in ("BTCUSDT", "ETHUSDT"):
        await record_trade(db, symbol)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def executor_factory(
    exchange: Simulator, pool: asyncpg.Pool
) -> AsyncIterator[Callable[..., Awaitable[BinanceExecutor]]]:
    made: list[BinanceExecutor] = []

    async def make(**overrides: Any) -> BinanceExecutor:
        executor = await BinanceExecutor.create(config_for(exchange, **overrides), pool)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        await executor.close()
