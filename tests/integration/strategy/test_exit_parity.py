"""Exit parity: the live worker trading on the simulated exchange (EXECUTION=binance) and a paper
backtest of the session it recorded exit the same positions the same way, in the same bar (a time
exit: the same number of bars after each one's own entry fill).

The rules here are the time exit (max_hold), decided from the same recorded bars by both. Stops
moved by breakeven and trailing are levels relative to each executor's own entry fill (paper: the
next recorded trade plus slippage; the exchange: its MARKET order's average price), so a price
that comes back into the gap between the two can end one at breakeven and not the other; their
mechanics on the exchange are tested in tests/integration/execution/test_exit_rules.py and the
shared rule code against paper in tests/unit/strategy/test_exits.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from strategy.backtest import run_backtest
from strategy.cli import run_strategy
from strategy.config import StrategyConfig
from strategy.exits import QUALITIES, ExitRules
from tests.integration.strategy.test_worker import SCRIPT, SYMBOLS, fast_config

BAR = 1000
HOLD = 4 * BAR  # a whole number of bars: an entry later within its bar exits in the same bar
SPEED = 3.0  # the worker's delay from a signal to its exchange entry stays within a bar or so


def exits_config() -> StrategyConfig:
    rules = ExitRules(max_hold_ms=tuple((q, HOLD) for q in QUALITIES))
    config = fast_config(executor="binance")
    return replace(config, strategies=tuple(replace(s, exits=rules) for s in config.strategies))


async def test_exchange_and_paper_exits_agree_on_kind_and_bar(
    record_session, strategy_db, monkeypatch
):
    conn = await asyncpg.connect(strategy_db)
    try:
        await conn.execute("TRUNCATE exchange_orders, exchange_positions")
    finally:
        await conn.close()
    config = exits_config()
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []

    async def start_worker(sim: Simulator, recorder) -> None:
        monkeypatch.setenv("BINANCE_API_KEY", DEFAULT_API_KEY)
        monkeypatch.setenv("BINANCE_API_SECRET", DEFAULT_API_SECRET)
        monkeypatch.setenv("BINANCE_TRADE_REST_URL", sim.http_url)
        monkeypatch.setenv("BINANCE_TRADE_WS_URL", sim.ws_url)
        monkeypatch.setenv("STALE_FLATTEN_AFTER", "1h")  # the session ends; that's not staleness
        tasks.append(asyncio.create_task(run_strategy(strategy_db, config, stop)))

    await record_session(SCRIPT, 120, symbols=list(SYMBOLS), speed=SPEED,
                         on_running=start_worker)  # fmt: skip
    await asyncio.sleep(2)  # exits queued at the last bars finish
    stop.set()
    await asyncio.wait_for(tasks[0], 30)

    conn = await asyncpg.connect(strategy_db)
    try:
        first = await conn.fetchval("SELECT min(time) FROM indicators")
        last = await conn.fetchval("SELECT max(time) FROM indicators")
        exchange = await conn.fetch(
            "SELECT signal_id, exit_kind, opened_at, exit_time FROM exchange_positions"
            " WHERE state = 'closed' AND filled_qty > 0"
        )
    finally:
        await conn.close()
    start_ms, end_ms = _ms(first), _ms(last)
    result = await run_backtest(strategy_db, replace(config, executor="paper"), start_ms, end_ms,
                                warm=True)  # fmt: skip
    paper = {t.signal_id: t for t in result.trades if t.exit_reason != "end_of_data"}
    live = {r["signal_id"]: r for r in exchange if r["exit_time"] is not None}
    both = sorted(set(paper) & set(live))
    assert both, f"no position exited in both: paper {len(paper)}, exchange {len(live)}"
    for signal_id in both:
        trade, row = paper[signal_id], live[signal_id]
        assert row["exit_kind"] == trade.exit_reason, (signal_id, row["exit_kind"], trade)
        kind = trade.exit_reason
        exchange_bar, paper_bar = _bar(_ms(row["exit_time"]), kind), _bar(trade.exit_time_ms, kind)
        if kind == "time":  # counted from each entry fill; an exchange fill can land a bar late
            exchange_bar -= _ms(row["opened_at"]) // BAR
            paper_bar -= trade.entry_time_ms // BAR
        assert exchange_bar == paper_bar, (row, trade)
    kinds = {paper[s].exit_reason for s in both}
    assert "time" in kinds, kinds


def _ms(value) -> int:
    return value if isinstance(value, int) else round(value.timestamp() * 1000)


def _bar(time_ms: int, kind: str) -> int:
    """The bar an exit belongs to: a stop or target by the trade within it, any other exit at
    the bar's close (its end)."""
    on_trade = kind in ("stop", "breakeven", "trailing", "target")
    return time_ms // BAR if on_trade else (time_ms - 1) // BAR
