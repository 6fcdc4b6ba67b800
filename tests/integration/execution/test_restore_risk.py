"""After a restart in EXECUTION=binance, the risk manager knows what happened on the exchange:
realized PnL, the loss streak and its cooldown, and the positions still open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.config import RiskParams
from strategy.risk import RiskManager
from strategy.signals import Side
from tests.integration.execution.helpers import eventually, make_signal, wait_state

Factory = Callable[..., Awaitable[BinanceExecutor]]


async def test_a_restart_keeps_the_loss_streak_and_open_positions(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    first = await executor_factory()
    loser = make_signal(exchange, Side.SHORT, stop_pct=0.003)
    await first.enter(loser, 0.01)
    exchange.trade_to("BTCUSDT", f"{loser.stop + 1:.1f}")
    await wait_state(pool, loser, "closed")

    async def loss_booked() -> float:  # the closing fill may follow the flat ACCOUNT_UPDATE
        return await pool.fetchval(
            "SELECT realized_pnl FROM exchange_positions WHERE signal_id = $1", loser.signal_id
        )

    await eventually(loss_booked)
    held = make_signal(exchange, Side.LONG, symbol="ETHUSDT")
    await first.enter(held, 0.5)

    restarted = await executor_factory()
    risk = RiskManager(RiskParams(cooldown_after_losses=1, cooldown_ms=3_600_000))
    await restarted.restore_risk(risk)

    assert risk.realized < 0
    assert set(risk.open) == {"ETHUSDT"} and risk.open["ETHUSDT"] > 0
    closed_ms = (await restarted.store.risk_history())[0][0][2]
    again = make_signal(exchange, Side.SHORT, time_ms=closed_ms + 60_000)
    assert risk.decide(again).reason == "cooldown"
    assert risk.decide(make_signal(exchange, Side.LONG, symbol="ETHUSDT")).reason == (
        "position_open"
    )
