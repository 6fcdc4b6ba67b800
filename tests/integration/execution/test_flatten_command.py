"""``python main.py flatten`` in its own process against the simulator and the database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET, Order
from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.signals import Side
from tests.integration.execution.helpers import make_signal, position_row

ROOT = Path(__file__).resolve().parents[3]


async def test_flatten_command_closes_flowline_positions_and_leaves_others(
    executor_factory: Callable[..., Awaitable[BinanceExecutor]],
    exchange: Simulator,
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    executor = await executor_factory()
    long_btc = make_signal(exchange, Side.LONG)
    short_eth = make_signal(exchange, Side.SHORT, symbol="ETHUSDT")
    await executor.enter(long_btc, 0.01)
    await executor.enter(short_eth, 0.05)
    await executor.close()
    account = exchange.accounts[DEFAULT_API_KEY]
    assert exchange.engine is not None
    price = exchange.feed.feeds["BTCUSDT"].market.last_tick - 500  # type: ignore[union-attr]
    foreign = exchange.engine.place(
        account, Order(0, "manual-order", "BTCUSDT", "BUY", "LIMIT", 10, price, 0)
    )
    env = {
        **os.environ,
        "BINANCE_API_KEY": DEFAULT_API_KEY,
        "BINANCE_API_SECRET": DEFAULT_API_SECRET,
        "BINANCE_TRADE_REST_URL": exchange.http_url,
        "BINANCE_TRADE_WS_URL": exchange.ws_url,
        "DATABASE_URL": database_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "flatten", "--reason", "test kill switch",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    assert process.returncode == 0, text
    assert account.position("BTCUSDT").lots == 0 and account.position("ETHUSDT").lots == 0
    assert [o.client_id for o in account.open_orders()] == [foreign.client_id]
    assert account.open_algos() == []
    for signal in (long_btc, short_eth):
        row = await position_row(pool, signal)
        assert row is not None and row["state"] == "closed"
        assert row["reason"] == "flatten: test kill switch"
    assert DEFAULT_API_SECRET not in text and DEFAULT_API_KEY not in text
