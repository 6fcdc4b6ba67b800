"""Positions are sized from the account's wallet balance as the exchange reports it, kept current
from ACCOUNT_UPDATE; ground truth is the simulator's own account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY
from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.config import RiskParams
from strategy.risk import RiskManager
from strategy.signals import Side
from tests.integration.execution.helpers import eventually, make_signal, wait_state

Factory = Callable[..., Awaitable[BinanceExecutor]]


async def test_risk_is_sized_from_the_wallet_balance_and_follows_the_account(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    account = exchange.accounts[DEFAULT_API_KEY]
    account.wallet = 2_500.0  # not the configured equity of 10 000
    executor = await executor_factory()
    risk = RiskManager(RiskParams(equity=10_000.0, sizing="margin", margin_per_trade_pct=10.0))
    await executor.restore_risk(risk)
    assert risk.equity == 2_500.0 and risk.leverage == 10  # LEVERAGE of the test config

    signal = make_signal(exchange, Side.SHORT, stop_pct=0.003)
    decision = risk.decide(signal)
    # 10 % of 2 500 as margin × 10 = 2 500 notional
    assert decision.qty * signal.entry == pytest.approx(2_500.0, rel=1e-9)
    await executor.enter(signal, decision.qty)
    exchange.trade_to("BTCUSDT", f"{signal.stop + 1:.1f}")  # stopped out: a loss and fees
    await wait_state(pool, signal, "closed")
    await eventually(lambda: _true(abs(risk.equity - account.wallet) < 1e-6))
    assert account.wallet < 2_500.0 and executor.balance == risk.equity


async def _true(value: bool) -> bool:
    return value
