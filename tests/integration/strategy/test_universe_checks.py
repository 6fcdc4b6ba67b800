"""The universe check's figures from recorded rows in the real database: only rows before the
check time count; volume, change, open interest, spread, depth and status by hand."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import asyncpg
import pytest

from strategy.config import RiskParams, StrategySpec, UniverseParams
from strategy.screen import judge, measure
from strategy.source import setup_reader
from tests.integration.strategy.test_signals_only import CHATTY
from tests.integration.strategy.test_worker import _assert_backtest_agrees, _run_live, fast_config

T = int(dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC).timestamp() * 1000)
HOUR, MINUTE = 3_600_000, 60_000

_TRADE = """
INSERT INTO agg_trades (time, symbol, agg_trade_id, price, qty, first_trade_id, last_trade_id,
                        is_buyer_maker, received_at)
VALUES ($1, $2, $3, $4, $5, $3, $3, false, $1)"""
_OI = "INSERT INTO open_interest (time, symbol, open_interest, received_at) VALUES ($1, $2, $3, $1)"
_BOOK = """
INSERT INTO book_top (time, symbol, last_update_id, best_bid_price, best_bid_qty, best_ask_price,
                      best_ask_qty, bid_prices, bid_qtys, ask_prices, ask_qtys)
VALUES ($1, $2, 1, ($3::float8[])[1], ($4::float8[])[1], ($5::float8[])[1], ($6::float8[])[1],
        $3, $4, $5, $6)"""
_SYMBOL = """
INSERT INTO symbols (market, symbol, status, tick_size, step_size, updated_at)
VALUES ('usdm', $1, $2, 0.01, 0.001, now())
ON CONFLICT (market, symbol) DO UPDATE SET status = EXCLUDED.status"""


async def record(conn: asyncpg.Connection) -> None:
    trades = [(T - 25 * HOUR, 50.0, 100.0),  # before the 24 h
              (T - 23 * HOUR, 100.0, 10.0), (T - HOUR, 110.0, 5.0),
              (T - HOUR + MINUTE, 112.0, 1.0),
              (T, 999.0, 1000.0)]  # at the check: after it  # fmt: skip
    for i, (time, price, qty) in enumerate(trades):
        await conn.execute(_TRADE, time, "AAAUSDT", i, price, qty)
    for time, oi in [(T - 2 * HOUR, 50.0), (T - 30 * MINUTE, 60.0), (T + MINUTE, 999.0)]:
        await conn.execute(_OI, time, "AAAUSDT", oi)
    books = [
        (T - 2 * HOUR, [100.0], [1.0], [130.0], [1.0]),  # outside the hour before
        (T - 50 * MINUTE, [109.0], [1.0], [111.0], [1.0]),  # 1.818 %
        (T - 30 * MINUTE, [109.9], [1.0], [110.1], [1.0]),  # 0.1818 %
        (T - 10 * MINUTE, [110.0, 109.5, 100.0], [1.0, 2.0, 3.0],  # 0.04544 %, the newest
         [110.05, 111.0, 120.0], [1.0, 1.0, 1.0]),
        (T, [1.0], [1.0], [1000.0], [1.0]),  # at the check: after it
    ]  # fmt: skip
    for time, *levels in books:
        await conn.execute(_BOOK, time, "AAAUSDT", *levels)
    await conn.execute(_SYMBOL, "AAAUSDT", "TRADING")
    await conn.execute(_SYMBOL, "BBBUSDT", "SETTLING")


async def test_figures_from_the_rows_before_the_check(strategy_db):
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        await record(conn)
        measures = await measure(conn, ["AAAUSDT", "BBBUSDT"], T, HOUR)
    finally:
        await conn.close()
    a, b = measures["AAAUSDT"], measures["BBBUSDT"]
    assert a.volume_24h == pytest.approx(100 * 10 + 110 * 5 + 112 * 1)
    assert a.trades_24h == 3
    assert a.change_pct == pytest.approx((112 / 100 - 1) * 100)
    assert a.open_interest == pytest.approx(60 * 112)  # the newest before T, at the last price
    assert a.spread_pct == pytest.approx(0.2 / 220 * 200)  # the median of the hour's three
    mid = (110.0 + 110.05) / 2  # the newest book: levels within 1 % of its mid
    assert a.depth == pytest.approx(110 * 1 + 109.5 * 2 + 110.05 + 111) and mid * 0.99 < 109.5
    assert a.atr_pct == pytest.approx((0 + 2) / 2 / 112 * 100)  # hourly ranges 0 and 2
    assert a.status == "TRADING" and isinstance(a.trades_24h, int) and 0 < a.score < 100
    assert (b.volume_24h, b.change_pct, b.open_interest, b.spread_pct, b.status) == (
        0.0, None, None, None, "SETTLING")  # fmt: skip
    p = UniverseParams(min_volume_24h=1000.0, min_open_interest=6000.0, max_spread_pct=0.2)
    assert judge(p, measures) == {"BBBUSDT": "not_trading"}
    assert judge(UniverseParams(max_spread_pct=0.1), measures) == {
        "AAAUSDT": "wide_spread", "BBBUSDT": "not_trading"}  # fmt: skip


async def test_live_and_backtest_refuse_the_same_signals(record_session, strategy_db):
    """A paper worker with the top gainer only (checked every simulated minute) over a recorded
    session, then a backtest of it: the same signals refused for the same reasons."""
    chatty = StrategySpec("scored_imbalance", params=CHATTY)
    config = fast_config(executor="paper", strategies=(chatty,),
                         universe=UniverseParams(check_ms=MINUTE, gainers=1))  # fmt: skip
    live, signals, final = await _run_live(record_session, strategy_db, config)
    await _assert_backtest_agrees(strategy_db, config, live, signals, final)
    decisions = Counter(r["decision"] for r in signals)
    assert decisions["universe_not_a_mover"] > 0, decisions
    assert sum(n for d, n in decisions.items() if not d.startswith("universe_")) > 0, decisions


async def test_live_and_backtest_refuse_the_same_correlated_signals(record_session, strategy_db):
    """max_correlation over the engine's own bars: the live worker and its backtest agree."""
    chatty = StrategySpec("scored_imbalance", params=CHATTY)
    risk = RiskParams(max_correlation=0.01, correlation_bars=10, cooldown_ms=0)
    config = fast_config(executor="paper", strategies=(chatty,), risk=risk)
    live, signals, final = await _run_live(record_session, strategy_db, config)
    await _assert_backtest_agrees(strategy_db, config, live, signals, final)
    decisions = Counter(r["decision"] for r in signals)
    assert decisions["max_correlation"] > 0 and decisions["accepted"] > 0, decisions
