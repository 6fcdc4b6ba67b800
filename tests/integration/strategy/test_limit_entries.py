"""LIMIT entries re-placed at the new price when they time out: a live paper worker and its
backtest agree on every decision and trade."""

from __future__ import annotations

import asyncio

import asyncpg

from sim.server import Simulator
from strategy.backtest import run_backtest
from strategy.config import PaperParams, StrategySpec
from strategy.signals import Side
from strategy.source import setup_reader
from tests.integration.execution.conftest import exchange, executor_factory, pool  # noqa: F401
from tests.integration.execution.helpers import last_price, make_signal, order_rows, position_row
from tests.integration.execution.test_lifecycle import position_lots
from tests.integration.strategy.test_signals_only import CHATTY
from tests.integration.strategy.test_worker import _assert_backtest_agrees, _run_live, fast_config


async def test_paper_limit_entries_live_and_in_a_backtest(record_session, strategy_db):
    # a 1 ms lifetime: an entry no trade reaches within it is re-placed at the last price and
    # cancelled when that lifetime passes too (entry_timeout), which frees the symbol for the
    # next signal: the decisions after it show whether live and backtest timed out alike
    paper = PaperParams(entry="limit", limit_timeout_ms=1, limit_replaces=1,
                        max_hold_ms=20_000)  # fmt: skip
    chatty = StrategySpec("scored_imbalance", params=CHATTY)
    config = fast_config(executor="paper", strategies=(chatty,), paper=paper)
    live, signals, final = await _run_live(record_session, strategy_db, config)
    await _assert_backtest_agrees(strategy_db, config, live, signals, final)
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        rows = await conn.fetch(
            "SELECT position_id, exit_reason, realized_pnl, entry_price FROM positions"
            " WHERE status = 'closed' AND exit_time < $1",
            final,
        )
    finally:
        await conn.close()
    result = await run_backtest(strategy_db, config, live[0]["time"], final, warm=True)
    assert any(r["exit_reason"] == "entry_timeout" for r in rows)
    filled = [r for r in rows if r["entry_price"] is not None]
    assert {(str(r["position_id"]), r["exit_reason"], round(r["realized_pnl"], 6))
            for r in filled} == {(str(t.signal_id), t.exit_reason, round(t.pnl, 6))
                                 for t in result.trades if t.exit_time_ms < final}  # fmt: skip


def best_bid(sim: Simulator, symbol: str = "BTCUSDT") -> float:
    book = sim.feed.depth_snapshot(symbol, 5)  # type: ignore[union-attr]
    return float(book["bids"][0][0])


async def test_binance_limit_entry_is_replaced_at_the_best_bid_and_fills_there(
    executor_factory,  # noqa: F811 (the fixtures of tests/integration/execution)
    exchange,  # noqa: F811
    pool,  # noqa: F811
):
    executor = await executor_factory(entry_type="LIMIT", limit_entry_timeout=0.5,
                                      limit_entry_replaces=2)  # fmt: skip
    price = last_price(exchange)
    # far below the market: the first order rests until it times out
    signal = make_signal(exchange, Side.LONG, entry=round(price * 0.97, 1),
                         stop=round(price * 0.95, 1))  # fmt: skip
    bid = best_bid(exchange)
    # once the first order timed out and was re-placed at the bid, the market trades through it
    mover = asyncio.get_running_loop().call_later(
        0.9, exchange.trade_to, "BTCUSDT", f"{bid - 5:.1f}"
    )
    await executor.enter(signal, 0.01)
    mover.cancel()
    orders = await order_rows(pool, signal)
    assert orders["entry"]["status"] == "CANCELED" and orders["entry"]["price"] == signal.entry
    assert orders["entry1"]["status"] == "FILLED" and orders["entry1"]["type"] == "LIMIT"
    assert orders["entry1"]["price"] == bid and "entry2" not in orders
    assert orders["entry1"]["client_order_id"].endswith("-e1")
    row = await position_row(pool, signal)
    assert row["state"] == "open" and row["entry_price"] == bid  # type: ignore[index]
    assert row["filled_qty"] == 0.01 and "stop" in orders  # type: ignore[index]


async def test_binance_limit_entry_never_filled_is_cancelled_after_its_replacements(
    executor_factory,  # noqa: F811 (the fixtures of tests/integration/execution)
    exchange,  # noqa: F811
    pool,  # noqa: F811
):
    executor = await executor_factory(entry_type="LIMIT", limit_entry_timeout=0.3,
                                      limit_entry_replaces=1)  # fmt: skip
    price = last_price(exchange)
    signal = make_signal(exchange, Side.LONG, entry=round(price * 0.97, 1),
                         stop=round(price * 0.95, 1))  # fmt: skip
    await executor.enter(signal, 0.01)
    orders = await order_rows(pool, signal)
    assert [orders[r]["status"] for r in ("entry", "entry1")] == ["CANCELED", "CANCELED"]
    assert "entry2" not in orders
    row = await position_row(pool, signal)
    assert row["state"] == "closed" and "without a fill" in row["reason"]  # type: ignore[index]
    assert executor.open_symbols() == set() and position_lots(exchange) == 0
