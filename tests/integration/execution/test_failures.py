"""What goes wrong: a stop that cannot be placed, lost answers, restarts, expired listen keys, stale
market data, bad keys and clocks, signals that break a symbol's filters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY
from sim.server import Simulator
from strategy.binance.errors import AuthError, ClockSkewError
from strategy.binance.executor import BinanceExecutor
from strategy.signals import Side
from tests.integration.execution.helpers import (
    config_for,
    eventually,
    make_signal,
    order_rows,
    position_row,
    wait_state,
)

Factory = Callable[..., Awaitable[BinanceExecutor]]


def lots(sim: Simulator, symbol: str = "BTCUSDT") -> int:
    return sim.accounts[DEFAULT_API_KEY].position(symbol).lots


def open_algo_ids(sim: Simulator) -> set[str]:
    return {a.client_id for a in sim.accounts[DEFAULT_API_KEY].open_algos()}


async def state_of(pool: asyncpg.Pool, signal: object) -> str:
    row = await position_row(pool, signal)  # type: ignore[arg-type]
    return row["state"] if row is not None else ""


async def test_stop_that_cannot_be_placed_closes_the_position_at_once(
    executor_factory: Factory,
    exchange: Simulator,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = await executor_factory()
    exchange.faults.reject_algo(code=-2021, msg="Order would immediately trigger.")
    signal = make_signal(exchange, Side.LONG)
    await executor.enter(signal, 0.02)
    row = await position_row(pool, signal)
    assert row is not None and row["state"] == "closed"
    assert row["reason"] == "stop could not be placed: Order would immediately trigger."
    assert lots(exchange) == 0 and open_algo_ids(exchange) == set()
    orders = await order_rows(pool, signal)
    assert orders["stop"]["status"] == "REJECTED" and orders["close"]["status"] == "FILLED"
    assert "tp1" not in orders
    assert "COULD NOT BE PLACED" in caplog.text


@pytest.mark.parametrize("delay", [0.0, 1.5], ids=["502", "timeout"])
async def test_lost_answer_on_entry_never_doubles_the_order(
    delay: float, executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory(request_timeout=1.0)
    exchange.faults.fail_after_accept(502, path="/fapi/v1/order", delay=delay)
    signal = make_signal(exchange, Side.SHORT)
    await executor.enter(signal, 0.01)
    account = exchange.accounts[DEFAULT_API_KEY]
    entries = [o for o in account.orders.values() if o.client_id.endswith("-e")]
    assert len(entries) == 1 and lots(exchange) == -10
    assert await state_of(pool, signal) == "open"
    prefix = f"fl-{signal.signal_id.hex[:20]}"
    assert open_algo_ids(exchange) == {f"{prefix}-sl", f"{prefix}-tp1"}


async def test_restart_mid_position_reconciles_and_restores_the_stop(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    first = await executor_factory()
    signal = make_signal(exchange, Side.LONG)
    await first.enter(signal, 0.01)
    await first.close()
    # while we are down, the stop disappears from the exchange
    account = exchange.accounts[DEFAULT_API_KEY]
    stop = next(a for a in account.open_algos() if a.client_id.endswith("-sl"))
    assert exchange.engine is not None
    exchange.engine.cancel_algo(account, stop)

    second = await executor_factory()
    assert second.open_symbols() == {"BTCUSDT"}
    prefix = f"fl-{signal.signal_id.hex[:20]}"
    assert open_algo_ids(exchange) == {f"{prefix}-sl", f"{prefix}-tp1"}
    assert await state_of(pool, signal) == "open" and lots(exchange) == 10
    # and the restarted executor still sees the exit through
    exchange.trade_to("BTCUSDT", f"{signal.targets[0] + 1:.1f}")

    await wait_state(pool, signal, "closed")
    assert open_algo_ids(exchange) == set()


async def test_position_closed_while_down_is_marked_closed_and_its_orders_cancelled(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    first = await executor_factory()
    signal = make_signal(exchange, Side.SHORT, targets_pct=(0.005, 0.01))
    await first.enter(signal, 0.02)
    await first.close()
    exchange.trade_to("BTCUSDT", f"{signal.stop + 1:.1f}")  # the stop fires while we are down
    assert lots(exchange) == 0
    await executor_factory()
    row = await position_row(pool, signal)
    assert row is not None and row["state"] == "closed"
    assert row["reason"] == "closed by stop (found flat when reconciling)"
    assert open_algo_ids(exchange) == set()


async def test_listen_key_expiry_renews_the_stream_and_events_still_arrive(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    await eventually(lambda: _true(executor.stream.connected.is_set()))
    assert exchange.faults.expire_listen_keys() == 1
    await eventually(lambda: _true(executor.stream.connects >= 2))
    assert executor.stream.key_renewals == 1
    signal = make_signal(exchange, Side.LONG)
    await executor.enter(signal, 0.01)
    exchange.trade_to("BTCUSDT", f"{signal.targets[0] + 1:.1f}")

    row = await wait_state(pool, signal, "closed")
    assert "tp1" in row["reason"]


async def test_dropped_user_data_connection_reconnects_and_reconciles(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    await eventually(lambda: _true(executor.stream.connected.is_set()))
    signal = make_signal(exchange, Side.LONG)
    await executor.enter(signal, 0.01)
    assert exchange.faults.drop_connections(route="private") == 1
    exchange.trade_to("BTCUSDT", f"{signal.targets[0] + 1:.1f}")  # while the stream is down
    row = await wait_state(pool, signal, "closed")
    assert row["reason"].startswith("closed by tp1")
    assert executor.stream.connects >= 2 and open_algo_ids(exchange) == set()


async def test_keepalive_answered_with_1125_creates_a_new_key(
    executor_factory: Factory, exchange: Simulator
) -> None:
    executor = await executor_factory(keepalive_interval=0.3)
    await eventually(lambda: _true(executor.stream.connected.is_set()))
    exchange.userdata.keys.clear()  # the key vanishes without an event (another client deleted it)
    await eventually(
        lambda: _true(executor.stream.key_renewals >= 1 and executor.stream.connects >= 2)
    )


async def test_stale_market_data_flattens_the_symbol(
    executor_factory: Factory,
    exchange: Simulator,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = await executor_factory(stale_flatten_after=1.0)
    signal = make_signal(exchange, Side.LONG)
    await executor.enter(signal, 0.01)
    assert lots(exchange) == 10

    await wait_state(pool, signal, "closed")
    row = await position_row(pool, signal)
    assert row is not None and row["reason"].startswith("flatten: stale market data")
    assert lots(exchange) == 0 and open_algo_ids(exchange) == set()
    assert any(
        r.levelno == logging.ERROR and "STALE MARKET DATA for BTCUSDT" in r.getMessage()
        for r in caplog.records
    )


async def test_wrong_secret_is_a_clear_auth_error(exchange: Simulator, pool: asyncpg.Pool) -> None:
    config = config_for(exchange, api_secret="x" * 64)
    with pytest.raises(AuthError, match=r"-1022.*Signature for this request is not valid"):
        await BinanceExecutor.create(config, pool)
    unknown = config_for(exchange, api_key="B" * 64)
    with pytest.raises(AuthError, match="-2015"):
        await BinanceExecutor.create(unknown, pool)


async def test_clock_skew_is_resynced_or_reported(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    exchange.faults.skew_clock(20_000)  # the server's clock jumps; /fapi/v1/time shows it
    account = await executor.client.request("GET", "/fapi/v2/account")
    assert account["assets"][0]["asset"] == "USDT"
    assert executor.client.offset_ms > 15_000
    exchange.faults.skew_clock(-20_000, time_endpoint=False)  # re-syncing cannot help
    with pytest.raises(ClockSkewError, match="still after re-syncing"):
        await BinanceExecutor.create(config_for(exchange), pool)


async def test_signals_breaking_filters_are_adjusted_or_rejected(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    too_small = make_signal(exchange, Side.LONG)
    await executor.enter(too_small, 0.0004)
    row = await position_row(pool, too_small)
    assert row is not None and row["state"] == "rejected"
    assert row["reason"] == "quantity 0.000 is below minQty 0.001"
    tiny = make_signal(exchange, Side.LONG)
    await executor.enter(tiny, 0.001)  # 65 USDT < MIN_NOTIONAL 100
    row = await position_row(pool, tiny)
    assert row is not None and "below MIN_NOTIONAL 100" in row["reason"]
    wrong = make_signal(exchange, Side.SHORT, stop_pct=-0.01)
    await executor.enter(wrong, 0.01)
    row = await position_row(pool, wrong)
    assert row is not None and "not on the losing side" in row["reason"]
    assert lots(exchange) == 0

    odd = make_signal(exchange, Side.LONG, symbol="ETHUSDT", entry=3200.004, stop=3100.0071)
    await executor.enter(odd, 0.0515)  # off-step quantity, off-tick prices
    orders = await order_rows(pool, odd)
    assert orders["entry"]["qty"] == 0.051
    assert orders["stop"]["trigger_price"] == 3100.01
    assert lots(exchange, "ETHUSDT") == 51


async def _true(value: bool) -> bool:
    return value
