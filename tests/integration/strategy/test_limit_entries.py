"""LIMIT entries re-placed at the new price when they time out: a live paper worker and its
backtest agree on every decision and trade."""

from __future__ import annotations

import asyncpg

from strategy.backtest import run_backtest
from strategy.config import PaperParams, StrategySpec
from strategy.source import setup_reader
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
