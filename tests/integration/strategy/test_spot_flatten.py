"""``python main.py flatten`` with ``EXECUTION=binance-spot``, in its own process against the
simulator's spot side and the real database: Flowline's spot orders cancelled, what its deals
hold sold at market, the deals recorded as flattened; other orders left alone; bad input is one
line and exit 2."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET, Order
from sim.server import Simulator
from strategy.signals import Signal
from strategy.spot.deal import Deal
from strategy.spot.executor import SpotExecutor
from strategy.spot.store import DealStore
from tests.integration.recorder.conftest import wait_until
from tests.integration.strategy.test_spot_deals import (  # noqa: F401 (fixtures)
    SYMBOL,
    balances,
    book,
    config,
    deals_db,
    orders,
    signal_at,
    spot_sim,
)

ROOT = Path(__file__).resolve().parents[3]
NO_KEYS = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "EXECUTION", "BINANCE_SPOT_API_KEY",
           "BINANCE_SPOT_API_SECRET", "BINANCE_SPOT_TRADE_REST_URL", "BINANCE_LIVE")  # fmt: skip


def spot_env(sim: Simulator, database_url: str) -> dict[str, str]:
    return {
        "EXECUTION": "binance-spot", "BINANCE_SPOT_API_KEY": DEFAULT_API_KEY,
        "BINANCE_SPOT_API_SECRET": DEFAULT_API_SECRET, "BINANCE_SPOT_TRADE_REST_URL": sim.http_url,
        "DATABASE_URL": database_url,
    }  # fmt: skip


async def flatten(env: dict[str, str]) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if k not in NO_KEYS}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "flatten", "--reason", "test kill switch", cwd=ROOT,
        env=base | {"PYTHONWARNINGS": "ignore"} | env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def two_deals(sim: Simulator, executor: SpotExecutor) -> tuple[Signal, Signal]:
    """A deal selling (its BUY filled at once, its SELL at the markup resting) and a deal
    buying (its BUY resting far under the market)."""
    bid, ask = book(sim)
    selling = signal_at(sim, ask + 5)
    rests = signal_at(sim, bid - 400)
    buying = replace(rests, time_ms=rests.time_ms + 1)  # another signal
    await executor.enter(selling, 1000.0 / selling.entry)
    await wait_until(lambda: len(orders(sim, "SELL")) == 1, 10, "the SELL")
    await executor.enter(buying, 1000.0 / buying.entry)
    return selling, buying


async def test_flatten_sells_what_the_spot_deals_hold_and_leaves_other_orders(
    spot_sim: Simulator,  # noqa: F811
    deals_db: asyncpg.Pool,  # noqa: F811
    database_url: str,
):
    usdt, btc = balances(spot_sim)
    executor = await SpotExecutor.create(config(spot_sim, SPOT_MAX_DEALS="2"), deals_db)
    try:
        selling, buying = await two_deals(spot_sim, executor)
    finally:
        await executor.close()  # the worker is gone; its orders rest
    engine = spot_sim.spot_engine
    assert engine is not None
    account = engine.accounts[DEFAULT_API_KEY]
    bid, _ = book(spot_sim)
    foreign = engine.place(
        account, Order(0, "manual-order", SYMBOL, "BUY", "LIMIT", 10, bid - 600, 0)
    )
    assert balances(spot_sim)[1] > btc

    code, text = await flatten(spot_env(spot_sim, database_url))
    assert code == 0, text
    assert [o.client_id for o in account.open_orders()] == [foreign.client_id]
    assert [o.status for o in orders(spot_sim, "BUY")] == ["FILLED", "CANCELED", "NEW"]
    limit_sell, market_sell = orders(spot_sim, "SELL")
    assert limit_sell.status == "CANCELED" and market_sell.type == "MARKET"
    assert market_sell.status == "FILLED" and market_sell.client_id.endswith("-x")
    step = spot_sim.spot.feeds[SYMBOL].instrument.qty_float(1)
    assert balances(spot_sim)[1] < step  # what is left is less than a step: the commission's dust
    rows = {
        r["deal_id"]: r
        for r in await deals_db.fetch("SELECT deal_id, state, reason, pnl, fees FROM spot_deals")
    }
    sold, cancelled = rows[selling.signal_id], rows[buying.signal_id]
    assert (sold["state"], sold["reason"]) == ("closed", "flatten")
    # net of the commission: what the account gained (quote, and the BUY's dust at its price)
    after_usdt, after_btc = balances(spot_sim)
    fill = await deals_db.fetchval("SELECT fill_price FROM spot_deals WHERE state = 'closed'")
    assert sold["fees"] > 0
    assert sold["pnl"] == pytest.approx(after_usdt - usdt + (after_btc - btc) * fill, abs=1e-6)
    # the BUY bought nothing: cancelled, not a trade
    assert [cancelled[k] for k in ("state", "reason", "pnl")] == ["cancelled", "flatten", None]
    assert DEFAULT_API_SECRET not in text and DEFAULT_API_KEY not in text

    # run again: nothing of Flowline's is left, nothing else is touched
    code, text = await flatten(spot_env(spot_sim, database_url))
    assert code == 0, text
    assert len(orders(spot_sim, "SELL")) == 2 and foreign.status == "NEW"


async def test_a_running_worker_leaves_the_flattened_deals_alone(
    spot_sim: Simulator,  # noqa: F811
    deals_db: asyncpg.Pool,  # noqa: F811
    database_url: str,
):
    poll = config(spot_sim, SPOT_MAX_DEALS="2", SPOT_POLL_INTERVAL="0.02")
    executor = await SpotExecutor.create(poll, deals_db)
    try:
        await two_deals(spot_sim, executor)
        code, text = await flatten(spot_env(spot_sim, database_url))
        assert code == 0, text
        sent = len(orders(spot_sim, "BUY")), len(orders(spot_sim, "SELL"))
        await wait_until(lambda: not executor.busy_symbols(), 10, "the worker to see it")
        await asyncio.sleep(0.5)  # 25 more polls
        closed = executor.take_closed()
    finally:
        await executor.close()
    # the cancelled BUY was not re-placed, the cancelled SELL not sent again
    assert (len(orders(spot_sim, "BUY")), len(orders(spot_sim, "SELL"))) == sent == (2, 2)
    rows = await deals_db.fetch("SELECT state, reason, pnl FROM spot_deals ORDER BY created_at")
    assert [(r["state"], r["reason"]) for r in rows] == [
        ("closed", "flatten"), ("cancelled", "flatten")
    ]  # fmt: skip
    # the worker's risk manager hears of both endings, with the stored PnL
    assert sorted(pnl for _, pnl in closed) == sorted([rows[0]["pnl"], 0.0])


async def test_flatten_bad_input_is_one_line_and_exit_2():
    runs = await asyncio.gather(
        flatten({"EXECUTION": "spot"}),
        flatten({"EXECUTION": "binance-spot"}),
        flatten({"EXECUTION": "binance-spot", "BINANCE_SPOT_API_KEY": "k",
                 "BINANCE_SPOT_API_SECRET": "s",
                 "BINANCE_SPOT_TRADE_REST_URL": "https://api.binance.com"}),
    )  # fmt: skip
    assert runs == [
        (2, "flatten: EXECUTION='spot': expected one of off, paper, binance, binance-spot\n"),
        (2, "flatten: BINANCE_SPOT_API_KEY is required to trade spot (EXECUTION=binance-spot)\n"),
        (2, "flatten: BINANCE_SPOT_TRADE_REST_URL points at production Binance (api.binance.com):"
            " real money needs BINANCE_LIVE=1; for demo trading use https://testnet.binance.vision\n"),
    ]  # fmt: skip


async def test_flatten_sells_for_a_stop_whose_market_sell_never_left(
    spot_sim: Simulator,  # noqa: F811
    deals_db: asyncpg.Pool,  # noqa: F811
):
    bid, _ = book(spot_sim)
    price = spot_sim.spot.feeds[SYMBOL].instrument.price_float(bid)
    spot_sim.spot_engine.accounts[DEFAULT_API_KEY].free["BTC"] += 0.01  # what the BUY left
    # the worker stopped after recording the stop, before its MARKET SELL was sent
    deal = Deal(
        uuid.uuid4(), SYMBOL, "macd_book", "stopping", 1000.0, markup=0.01, stop_frac=0.03,
        buy_price=price, buy_qty=0.01, filled_qty=0.01, fill_price=price,
        sell_price=price * 1.01, sell_qty=0.01, reason="stop_emergency",
    )  # fmt: skip
    await DealStore(deals_db).save(deal)
    executor = await SpotExecutor.connect(config(spot_sim), deals_db)
    try:
        assert await executor.flatten() == []
    finally:
        await executor.close()
    (sell,) = orders(spot_sim, "SELL")
    assert (sell.type, sell.status, sell.client_id) == ("MARKET", "FILLED", deal.client_id())
    stored = await DealStore(deals_db).load(deal.deal_id)
    assert stored is not None and (stored.state, stored.reason) == ("closed", "flatten")
    assert stored.fees > 0 and stored.pnl == pytest.approx(
        0.01 * (stored.exit_price - price) - stored.fees
    )
