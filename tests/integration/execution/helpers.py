"""Helpers for the executor tests: signals at the simulated price, polling, rows."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from strategy.binance.config import BinanceConfig
from strategy.binance.executor import BinanceExecutor
from strategy.signals import Quality, Side, Signal
from tests.sim_fixtures import make_simulator

_times = itertools.count(1_800_000_000_000)


def trading_market(symbols: list[str]) -> Simulator:
    """A live market on wall time: signed requests are checked against the server clock."""
    return make_simulator(paused=False, speed=1.0, start_ms=None, rate=40.0, symbols=symbols)


async def record_trade(db: asyncpg.Pool, symbol: str) -> None:
    """One agg_trades row stamped now, as the recorder would write it, and its streams alive."""
    now = datetime.now(UTC)
    await db.execute(
        """INSERT INTO agg_trades (time, symbol, agg_trade_id, price, qty, first_trade_id,
           last_trade_id, is_buyer_maker, received_at)
           VALUES ($1, $2, $3, 1, 1, 1, 1, false, $1)""",
        now,
        symbol,
        time.monotonic_ns(),
    )
    await record_streams(db, symbol)


async def record_streams(db: asyncpg.Pool, symbol: str) -> None:
    """A mark price and a depth diff received now: the symbol's streams are alive (no trade)."""
    now, update_id = datetime.now(UTC), time.monotonic_ns()
    await db.execute(
        "INSERT INTO mark_prices (time, symbol, mark_price, received_at) VALUES ($1, $2, 1, $1)",
        now,
        symbol,
    )
    await db.execute(
        """INSERT INTO depth_updates (time, symbol, first_update_id, final_update_id,
           prev_final_update_id, bid_prices, bid_qtys, ask_prices, ask_qtys, received_at)
           VALUES ($1, $2, $3::int8, $3::int8, $3::int8 - 1, '{}', '{}', '{}', '{}', $1)""",
        now,
        symbol,
        update_id,
    )


def config_for(sim: Simulator, **overrides: Any) -> BinanceConfig:
    env = {
        "BINANCE_API_KEY": DEFAULT_API_KEY,
        "BINANCE_API_SECRET": DEFAULT_API_SECRET,
        "BINANCE_TRADE_REST_URL": sim.http_url,
        "BINANCE_TRADE_WS_URL": sim.ws_url,
        "STALE_FLATTEN_AFTER": "1h",
        "LEVERAGE": "10",
    }
    config = BinanceConfig.from_env(env)
    return dataclasses.replace(config, stale_check_interval=0.2, **overrides)


def last_price(sim: Simulator, symbol: str = "BTCUSDT") -> float:
    market = sim.feed.feeds[symbol].market  # type: ignore[union-attr]
    return market.instrument.price_float(market.last_tick)


def make_signal(
    sim: Simulator,
    side: Side,
    symbol: str = "BTCUSDT",
    stop_pct: float = 0.02,
    targets_pct: tuple[float, ...] = (0.01,),
    **fields: Any,
) -> Signal:
    price = last_price(sim, symbol)
    sign = side.sign
    values: dict[str, Any] = {
        "time_ms": next(_times),
        "symbol": symbol,
        "strategy": "test",
        "side": side,
        "entry": price,
        "stop": price * (1 - sign * stop_pct),
        "targets": tuple(price * (1 + sign * t) for t in targets_pct),
        "quality": Quality.HIGH,
        "score": 1.0,
    }
    values.update(fields)
    return Signal(**values)


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(0.05)


async def taken(executor: BinanceExecutor) -> list[tuple[str, float]]:
    """The positions the executor saw closed since last asked, with their net PnL."""
    return executor.take_closed()


async def position_row(db: asyncpg.Pool, signal: Signal) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM exchange_positions WHERE signal_id = $1", signal.signal_id
    )


async def order_rows(db: asyncpg.Pool, signal: Signal) -> dict[str, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM exchange_orders WHERE signal_id = $1", signal.signal_id)
    return {r["role"]: r for r in rows}


async def wait_state(db: asyncpg.Pool, signal: Signal, state: str) -> asyncpg.Record:
    """The signal's exchange_positions row once it reaches ``state``."""

    async def reached() -> asyncpg.Record | None:
        row = await position_row(db, signal)
        return row if row is not None and row["state"] == state else None

    return await eventually(reached)
