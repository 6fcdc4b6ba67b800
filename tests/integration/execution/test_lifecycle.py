"""A signal's whole life on the simulated exchange: entry, protection, exits, breakeven."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.signals import Side
from tests.integration.execution.helpers import (
    eventually,
    last_price,
    make_signal,
    order_rows,
    position_row,
    taken,
    wait_state,
)

Factory = Callable[..., Awaitable[BinanceExecutor]]


def open_algos(sim: Simulator) -> dict[str, str]:
    account = sim.accounts[DEFAULT_API_KEY]
    return {a.client_id: a.type for a in account.open_algos()}


def position_lots(sim: Simulator, symbol: str = "BTCUSDT") -> int:
    return sim.accounts[DEFAULT_API_KEY].position(symbol).lots


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
async def test_full_life_entry_protection_take_profit_then_stop_cancelled(
    side: Side,
    executor_factory: Factory,
    exchange: Simulator,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    executor = await executor_factory()
    wallet_before = exchange.accounts[DEFAULT_API_KEY].wallet
    signal = make_signal(exchange, side)
    await executor.enter(signal, 0.02)

    row = await position_row(pool, signal)
    assert row is not None and row["state"] == "open" and row["filled_qty"] == 0.02
    assert executor.open_symbols() == {"BTCUSDT"}
    assert position_lots(exchange) == 20 * side.sign
    orders = await order_rows(pool, signal)
    assert orders["entry"]["status"] == "FILLED" and orders["entry"]["type"] == "MARKET"
    prefix = f"fl-{signal.signal_id.hex[:20]}"
    assert open_algos(exchange) == {
        f"{prefix}-sl": "STOP_MARKET",
        f"{prefix}-tp1": "TAKE_PROFIT_MARKET",
    }
    assert orders["stop"]["qty"] is None and orders["tp1"]["qty"] == 0.02
    account = exchange.accounts[DEFAULT_API_KEY]
    assert account.leverage_of("BTCUSDT") == 10 and account.margin_type_of("BTCUSDT") == "ISOLATED"

    exchange.trade_to("BTCUSDT", f"{signal.targets[0] * (1 + side.sign * 0.001):.1f}")

    row = await wait_state(pool, signal, "closed")
    assert row["reason"].startswith("closed by tp1")
    assert position_lots(exchange) == 0
    assert open_algos(exchange) == {}
    orders = await order_rows(pool, signal)
    assert orders["tp1"]["status"] in ("FILLED", "FINISHED")
    assert orders["stop"]["status"] == "CANCELED"
    assert executor.open_symbols() == set()
    # the PnL the exchange booked: stored, and handed to the risk manager
    net = exchange.accounts[DEFAULT_API_KEY].wallet - wallet_before
    closed = await eventually(lambda: taken(executor))
    assert closed == [("BTCUSDT", pytest.approx(net, abs=1e-6))]
    row = await position_row(pool, signal)
    assert row is not None and row["realized_pnl"] > 0 and row["fees"] > 0
    assert row["realized_pnl"] - row["fees"] == pytest.approx(net, abs=1e-6)
    # the key material never reaches a log line
    assert DEFAULT_API_KEY not in caplog.text and DEFAULT_API_SECRET not in caplog.text
    assert "signature=" not in caplog.text


async def test_two_targets_half_each_and_stop_moves_to_breakeven(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    signal = make_signal(exchange, Side.LONG, targets_pct=(0.005, 0.01))
    await executor.enter(signal, 0.021)
    orders = await order_rows(pool, signal)
    assert orders["tp1"]["qty"] == 0.01 and orders["tp2"]["qty"] == 0.011
    entry = (await position_row(pool, signal))["entry_price"]  # type: ignore[index]

    exchange.trade_to("BTCUSDT", f"{signal.targets[0] + 1:.1f}")

    async def at_breakeven() -> bool:
        row = await position_row(pool, signal)
        orders = await order_rows(pool, signal)
        return bool(row["breakeven"]) and "breakeven" in orders  # type: ignore[index]

    await eventually(at_breakeven)
    prefix = f"fl-{signal.signal_id.hex[:20]}"
    account = exchange.accounts[DEFAULT_API_KEY]
    stops = [a for a in account.open_algos() if a.type == "STOP_MARKET"]
    assert [a.client_id for a in stops] == [f"{prefix}-be"]
    inst = exchange.feed.feeds["BTCUSDT"].instrument  # type: ignore[union-attr]
    assert abs(inst.price_float(stops[0].trigger_tick) - entry) <= 0.1
    assert position_lots(exchange) == 11

    exchange.trade_to("BTCUSDT", f"{signal.targets[1] + 1:.1f}")

    await wait_state(pool, signal, "closed")
    assert position_lots(exchange) == 0 and open_algos(exchange) == {}


async def test_stop_hit_closes_position_and_cancels_targets(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    signal = make_signal(exchange, Side.SHORT, stop_pct=0.003)
    await executor.enter(signal, 0.01)
    exchange.trade_to("BTCUSDT", f"{signal.stop + 1:.1f}")

    row = await wait_state(pool, signal, "closed")
    assert row["reason"].startswith("closed by stop")
    assert open_algos(exchange) == {}
    closed = await eventually(lambda: taken(executor))
    assert closed[0][1] < 0  # a loss, for the risk manager's streak
    assert (await position_row(pool, signal))["realized_pnl"] < 0  # type: ignore[index]
    assert (await order_rows(pool, signal))["tp1"]["status"] == "CANCELED"


async def test_same_signal_twice_enters_once(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    signal = make_signal(exchange, Side.LONG)
    await executor.enter(signal, 0.01)
    await executor.enter(signal, 0.01)
    account = exchange.accounts[DEFAULT_API_KEY]
    entries = [o for o in account.orders.values() if o.client_id.endswith("-e")]
    assert len(entries) == 1 and position_lots(exchange) == 10


async def test_limit_entry_fills_when_traded_through(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory(entry_type="LIMIT", limit_entry_timeout=10.0)
    signal = make_signal(exchange, Side.LONG, entry=round(last_price(exchange) - 20, 1))
    # the market trades through the resting entry while the executor waits for it
    mover = asyncio.get_running_loop().call_later(
        0.5, exchange.trade_to, "BTCUSDT", f"{signal.entry - 1:.1f}"
    )
    await executor.enter(signal, 0.01)
    mover.cancel()
    row = await position_row(pool, signal)
    assert row["state"] == "open" and row["entry_price"] == signal.entry  # type: ignore[index]
    orders = await order_rows(pool, signal)
    assert orders["entry"]["type"] == "LIMIT" and orders["entry"]["status"] == "FILLED"


async def test_limit_entry_not_filled_is_cancelled_after_timeout(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory(entry_type="LIMIT", limit_entry_timeout=0.5)
    price = last_price(exchange)
    signal = make_signal(
        exchange, Side.LONG, entry=round(price * 0.97, 1), stop=round(price * 0.95, 1)
    )
    await executor.enter(signal, 0.01)
    row = await position_row(pool, signal)
    assert row["state"] == "closed" and "without a fill" in row["reason"]  # type: ignore[index]
    assert (await order_rows(pool, signal))["entry"]["status"] == "CANCELED"
    assert executor.open_symbols() == set() and position_lots(exchange) == 0
