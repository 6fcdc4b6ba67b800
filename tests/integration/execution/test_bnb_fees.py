"""With the account's BNB fee discount on, Binance takes commission in BNB: the position's fees
are those BNB at BNBUSDT's mark price, not zero, and the risk manager gets the net result."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY
from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.signals import Side
from tests.integration.execution.helpers import (
    eventually,
    make_signal,
    position_row,
    taken,
    trading_market,
    wait_state,
)

Factory = Callable[..., Awaitable[BinanceExecutor]]


@pytest.fixture
async def exchange() -> AsyncIterator[Simulator]:
    """The execution tests' market, with BNBUSDT so that BNB has a price."""
    async with trading_market(["BTCUSDT", "ETHUSDT", "BNBUSDT"]) as simulator:
        yield simulator


async def test_commission_paid_in_bnb_counts_at_its_usdt_value(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    answer = await executor.client.request("POST", "/fapi/v1/feeBurn", {"feeBurn": "true"})
    assert answer == {"code": 200, "msg": "success"}
    assert await executor.client.request("GET", "/fapi/v1/feeBurn") == {"feeBurn": True}
    account = exchange.accounts[DEFAULT_API_KEY]
    wallet_before, bnb_before = account.wallet, account.bnb
    signal = make_signal(exchange, Side.LONG)
    await executor.enter(signal, 0.02)
    await wait_state(pool, signal, "open")
    exchange.trade_to("BTCUSDT", f"{signal.targets[0] * 1.001:.1f}")
    await wait_state(pool, signal, "closed")

    closed = await eventually(lambda: taken(executor))
    row = await position_row(pool, signal)
    assert row is not None
    bnb_paid = bnb_before - account.bnb
    assert bnb_paid > 0, "the simulator took no BNB: this proves nothing"
    # the USDT wallet moved by the realized profit only; the commission left in BNB
    assert account.wallet - wallet_before == pytest.approx(row["realized_pnl"], abs=1e-6)
    bnb_price = exchange.engine.mark("BNBUSDT")
    assert row["fees"] == pytest.approx(bnb_paid * bnb_price, rel=1e-3)
    assert closed == [("BTCUSDT", pytest.approx(row["realized_pnl"] - row["fees"], abs=1e-6))]
