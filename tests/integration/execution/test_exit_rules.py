"""The strategies' exit rules on the simulated exchange: a stop moved by breakeven and trailing is
a new algo stop (and what reconciliation restores after a restart), a time exit a reduce-only
MARKET close. The recorded trades and bar closes come as the worker hands them over."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from sim.accounts import DEFAULT_API_KEY
from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.exits import ExitRules
from strategy.signals import Side, Signal
from strategy.source import SymbolRows
from tests.integration.execution.helpers import (
    eventually,
    last_price,
    make_signal,
    order_rows,
    position_row,
    wait_state,
)

Factory = Callable[..., Awaitable[BinanceExecutor]]
BAR = 1000


def algo_triggers(sim: Simulator) -> dict[str, float]:
    """Our open algo orders' client id suffix -> trigger price."""
    account = sim.accounts[DEFAULT_API_KEY]
    inst = sim.feed.feeds["BTCUSDT"].instrument  # type: ignore[union-attr]
    return {a.client_id.rsplit("-", 1)[1]: inst.price_float(a.trigger_tick)
            for a in account.open_algos()}  # fmt: skip


def lots(sim: Simulator) -> int:
    return sim.accounts[DEFAULT_API_KEY].position("BTCUSDT").lots


async def feed_bar(executor: BinanceExecutor, price: float, rules: ExitRules, hold: int = 0):
    """One bar (ending in the next whole second) with one recorded trade at ``price``."""
    now = int(time.time() * 1000)
    end = now - now % BAR + BAR
    rows = {"BTCUSDT": SymbolRows([end - 1], [price], [0.001], [False])}
    return await executor.exits.on_bars(rows, [], [end], {}, {"test": rules}, hold)


async def test_breakeven_then_trailing_move_the_exchange_stop_and_survive_a_restart(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    rules = ExitRules(breakeven_pct=0.2, trail_pct=0.3, trail_after_pct=0.6)
    executor = await executor_factory()
    signal = make_signal(exchange, Side.LONG, stop_pct=0.02, targets_pct=(0.05,))
    await executor.enter(signal, 0.01)
    row = await position_row(pool, signal)
    assert row is not None and row["state"] == "open" and row["opened_at"] is not None
    entry = row["entry_price"]
    assert set(algo_triggers(exchange)) == {"sl", "tp1"}

    up = round(entry * 1.01, 1)  # the market is up 1 %: breakeven, then trailing
    exchange.trade_to("BTCUSDT", f"{up:.1f}")
    actions = await feed_bar(executor, round(entry * 1.003, 1), rules)
    assert [a.kind for a in actions] == ["move"] and actions[0].stop == entry
    await eventually(lambda: _has(exchange, "be"))
    assert "sl" not in algo_triggers(exchange)
    actions = await feed_bar(executor, up, rules)
    assert [a.kind for a in actions] == ["move"]
    await eventually(lambda: _has(exchange, "m1"))
    trailed = algo_triggers(exchange)["m1"]
    assert abs(trailed - up * 0.997) <= 0.1 and set(algo_triggers(exchange)) == {"m1", "tp1"}
    row = await position_row(pool, signal)
    assert row["stop_role"] == "move1" and abs(row["stop_price"] - up * 0.997) <= 0.1
    orders = await order_rows(pool, signal)
    assert orders["stop"]["status"] == orders["breakeven"]["status"] == "CANCELED"

    # restart: the moved stop got lost meanwhile; reconciliation places it again, moved
    await executor.close()
    account = exchange.accounts[DEFAULT_API_KEY]
    (moved,) = [a for a in account.open_algos() if a.client_id.endswith("-m1")]
    exchange.engine.cancel_algo(account, moved)  # type: ignore[union-attr]
    assert "m1" not in algo_triggers(exchange)
    await store_signal(pool, signal)  # as the worker stores it: the rules read it back
    restarted = await executor_factory()
    assert abs(algo_triggers(exchange)["m1"] - trailed) <= 1e-9
    # the restarted executor goes on trailing from the moved stop
    higher = round(up * 1.004, 1)
    exchange.trade_to("BTCUSDT", f"{higher:.1f}")
    actions = await feed_bar(restarted, higher, rules)
    assert [a.kind for a in actions] == ["move"] and actions[0].stop > trailed
    await eventually(lambda: _has(exchange, "m2"))
    trailed = algo_triggers(exchange)["m2"]

    exchange.trade_to("BTCUSDT", f"{round(trailed - 5, 1):.1f}")  # through the trailed stop
    row = await wait_state(pool, signal, "closed")
    assert row["exit_kind"] == "trailing" and row["exit_time"] is not None and lots(exchange) == 0


async def test_a_time_exit_closes_at_market_at_the_bar_close(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    executor = await executor_factory()
    signal = make_signal(exchange, Side.SHORT, stop_pct=0.05, targets_pct=(0.05,))
    await executor.enter(signal, 0.01)
    assert lots(exchange) == -10
    rules = ExitRules(max_hold_ms=(("HIGH", 1),))
    actions = await feed_bar(executor, last_price(exchange), rules)
    assert [a.kind for a in actions] == ["time"]
    row = await wait_state(pool, signal, "closed")
    assert row["exit_kind"] == "time" and row["reason"] == "exit: time"
    assert row["exit_time"].timestamp() * 1000 == actions[0].time_ms
    assert lots(exchange) == 0 and algo_triggers(exchange) == {}
    orders = await order_rows(pool, signal)
    assert orders["close"]["type"] == "MARKET" and orders["close"]["status"] == "FILLED"


async def store_signal(pool: asyncpg.Pool, signal: Signal) -> None:
    await pool.execute(
        """INSERT INTO signals (signal_id, time, symbol, strategy, side, entry, stop, target1,
           quality, score, reasons, decision)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '{}', 'test: exit rules')
           ON CONFLICT DO NOTHING""",
        signal.signal_id, datetime.fromtimestamp(signal.time_ms / 1000, UTC), signal.symbol,
        signal.strategy, signal.side.value, signal.entry, signal.stop, signal.targets[0],
        signal.quality.value, signal.score,
    )  # fmt: skip


async def _has(sim: Simulator, suffix: str) -> bool:
    return suffix in algo_triggers(sim)
