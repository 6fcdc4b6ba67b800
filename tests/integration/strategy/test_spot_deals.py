"""The spot executor (strategy/spot/) against the simulator's spot trading and the real database:
a deal's BUY re-placed after its lifetime, filled while the executor is down, continued after the
restart with its SELL at the markup (no second BUY), closed when the SELL fills; and the hard
stop selling at market."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from db.connect import create_pool
from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET, Order
from sim.server import Simulator
from strategy.signals import Quality, Side, Signal
from strategy.spot.config import SpotConfig
from strategy.spot.deal import Deal
from strategy.spot.executor import SpotExecutor
from strategy.spot.store import DealStore
from strategy.strategies.macd_book import MacdBookStrategy
from tests.integration.recorder.conftest import wait_until
from tests.sim_fixtures import make_simulator
from tests.unit.strategy.test_strategies_base import bar
from tests.unit.strategy.test_strategies_macd_book import book as book_state

SYMBOL = "BTCUSDT"


@pytest.fixture
async def spot_sim() -> AsyncIterator[Simulator]:
    async with make_simulator(
        paused=False, speed=1.0, start_ms=None, rate=40.0, symbols=[SYMBOL],
        spot_symbols=[SYMBOL],
    ) as simulator:  # fmt: skip
        yield simulator


@pytest.fixture
async def deals_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    await pool.execute("TRUNCATE spot_deals")
    try:
        yield pool
    finally:
        await pool.close()


def config(sim: Simulator, **env: str) -> SpotConfig:
    return SpotConfig.from_env({
        "BINANCE_SPOT_API_KEY": DEFAULT_API_KEY, "BINANCE_SPOT_API_SECRET": DEFAULT_API_SECRET,
        "BINANCE_SPOT_TRADE_REST_URL": sim.http_url, "SPOT_POLL_INTERVAL": "0.1", **env,
    })  # fmt: skip


def book(sim: Simulator) -> tuple[int, int]:
    assert sim.spot is not None
    b = sim.spot.feeds[SYMBOL].market.book
    return b.best_bid(), b.best_ask()  # type: ignore[return-value]


def signal_at(sim: Simulator, tick: int) -> Signal:
    assert sim.spot is not None
    entry = sim.spot.feeds[SYMBOL].instrument.price_float(tick)
    return Signal(
        time_ms=int(time.time() * 1000), symbol=SYMBOL, strategy="macd_book", side=Side.LONG,
        entry=entry, stop=entry * 0.97, targets=(entry * 1.01,), quality=Quality.HIGH,
        score=90.0,
    )  # fmt: skip


def orders(sim: Simulator, side: str) -> list[Any]:
    assert sim.spot_engine is not None
    account = sim.spot_engine.accounts[DEFAULT_API_KEY]
    return [o for o in account.orders.values() if o.side == side]


async def sell_through(sim: Simulator, executor: SpotExecutor, sell: Any) -> None:
    """The market trades through the SELL at the markup; the executor closes the deal."""
    sim.spot.sweep_to(SYMBOL, sell.tick + 1)
    sim.spot_engine.on_market()
    await wait_until(lambda: executor.take_closed() != [], 10, "the deal to close")


async def row(pool: asyncpg.Pool) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM spot_deals")


async def test_buy_replaced_filled_across_a_restart_then_sold_at_the_markup(spot_sim, deals_db):
    bid, _ = book(spot_sim)
    signal = signal_at(spot_sim, bid - 400)  # far under the market: it rests
    executor = await SpotExecutor.create(
        config(spot_sim, SPOT_ORDER_LIFETIME="0.5", SPOT_BUY_ATTEMPTS="3"), deals_db
    )
    try:
        await executor.enter(signal, 1000.0 / signal.entry)
        assert [o.tick for o in orders(spot_sim, "BUY")] == [bid - 400]  # at the signal price
        await wait_until(lambda: len(orders(spot_sim, "BUY")) == 2, 10, "the re-placed BUY")
    finally:
        await executor.close()  # the worker stops; the BUY rests on the exchange
    first, again = orders(spot_sim, "BUY")
    assert first.status == "CANCELED" and again.status == "NEW"
    assert again.client_id.endswith("-b1") and again.tick >= bid - 400  # the new best bid
    assert (await row(deals_db))["attempt"] == 1

    spot_sim.spot.sweep_to(SYMBOL, again.tick - 1)  # it fills while nobody watches
    spot_sim.spot_engine.on_market()
    assert again.status == "FILLED"

    executor = await SpotExecutor.create(config(spot_sim, SPOT_ORDER_LIFETIME="60"), deals_db)
    try:
        assert len(orders(spot_sim, "BUY")) == 2  # reconciliation continued: no second BUY
        (sell,) = orders(spot_sim, "SELL")
        inst = spot_sim.spot.feeds[SYMBOL].instrument
        fill = inst.price_float(again.tick)
        assert sell.type == "LIMIT" and sell.status == "NEW"
        assert inst.price_float(sell.tick) == pytest.approx(fill * 1.01, abs=inst.price_float(1))
        deal = await row(deals_db)
        assert deal["state"] == "selling" and deal["fill_price"] == pytest.approx(fill)
        assert deal["sell_qty"] <= deal["filled_qty"]  # the commission came out of the BTC
        await sell_through(spot_sim, executor, sell)
    finally:
        await executor.close()
    deal = await row(deals_db)
    assert deal["state"] == "closed" and deal["reason"] == "target"
    assert deal["pnl"] > 0 and deal["closed_at"] is not None


async def test_the_hard_stop_sells_at_market_and_a_short_is_not_traded(spot_sim, deals_db):
    _, ask = book(spot_sim)
    signal = signal_at(spot_sim, ask + 5)  # marketable: fills at once
    executor = await SpotExecutor.create(config(spot_sim), deals_db)
    try:
        await executor.enter(signal, 1000.0 / signal.entry)
        await wait_until(lambda: len(orders(spot_sim, "SELL")) == 1, 10, "the SELL")
        deal = await row(deals_db)
        stop_tick = spot_sim.spot.feeds[SYMBOL].instrument.price_float(1)
        spot_sim.spot.sweep_to(SYMBOL, int(deal["fill_price"] * 0.96 / stop_tick))
        await wait_until(lambda: executor.take_closed() != [], 10, "the stop")
        short = Signal(**{**signal.__dict__, "side": Side.SHORT, "time_ms": signal.time_ms + 1})
        await executor.enter(short, 0.001)
    finally:
        await executor.close()
    deal = await row(deals_db)
    assert deal["state"] == "closed" and deal["reason"] == "stop_emergency" and deal["pnl"] < 0
    limit_sell, market_sell = orders(spot_sim, "SELL")
    assert limit_sell.status == "CANCELED" and market_sell.type == "MARKET"
    assert market_sell.status == "FILLED"
    assert await deals_db.fetchval("SELECT count(*) FROM spot_deals") == 1  # no SHORT deal


async def test_the_strategys_book_reading_level_closes_the_deal_at_a_bar_close(spot_sim, deals_db):
    _, ask = book(spot_sim)
    signal = signal_at(spot_sim, ask + 5)
    executor = await SpotExecutor.create(config(spot_sim), deals_db)
    try:
        await executor.enter(signal, 1000.0 / signal.entry)
        await wait_until(lambda: len(orders(spot_sim, "SELL")) == 1, 10, "the SELL")
        fill = (await row(deals_db))["fill_price"]
        strategies = {SYMBOL: [MacdBookStrategy(SYMBOL, {})]}
        calm = bar(1, fill * 0.999)  # 0.1 % down: under the first level
        calm.book = book_state(fill * 0.999)
        executor.on_bars(strategies, [calm])
        # 2.1 % down, bids not outweighing asks: the critical level (the hard stop is at 3 %)
        critical = bar(2, fill * 0.979)
        critical.book = book_state(fill * 0.979)
        executor.on_bars(strategies, [critical])
        await wait_until(lambda: executor.take_closed() != [], 10, "the critical stop")
    finally:
        await executor.close()
    deal = await row(deals_db)
    assert deal["state"] == "closed" and deal["reason"] == "stop_critical"
    assert [o.type for o in orders(spot_sim, "SELL")] == ["LIMIT", "MARKET"]


async def test_start_sends_a_recorded_buy_that_never_left_and_cancels_orphans(spot_sim, deals_db):
    bid, _ = book(spot_sim)
    signal = signal_at(spot_sim, bid - 400)
    inst = spot_sim.spot.feeds[SYMBOL].instrument
    # the worker stopped after writing the deal, before its BUY was sent
    deal = Deal(
        signal.signal_id, SYMBOL, "macd_book", "buying", 1000.0, markup=0.01, stop_frac=0.03,
        buy_price=signal.entry, buy_qty=0.015, placed_ms=int(time.time() * 1000),
    )  # fmt: skip
    await DealStore(deals_db).save(deal)
    orphan = Order(0, "fls-00000000000000000000-b0", SYMBOL, "BUY", "LIMIT", 15, bid - 500, 0)
    spot_sim.spot_engine.place(spot_sim.spot_engine.accounts[DEFAULT_API_KEY], orphan)
    executor = await SpotExecutor.create(config(spot_sim, SPOT_ORDER_LIFETIME="60"), deals_db)
    await executor.close()
    assert orphan.status == "CANCELED"
    (_, sent) = orders(spot_sim, "BUY")
    assert sent.client_id == deal.client_id() and sent.status == "NEW"
    assert inst.price_float(sent.tick) == pytest.approx(signal.entry)


def balances(sim: Simulator) -> tuple[float, float]:
    """The spot account's (USDT, BTC), free and locked."""
    assert sim.spot_engine is not None
    account = sim.spot_engine.accounts[DEFAULT_API_KEY]
    return tuple(account.free[a] + account.locked[a] for a in ("USDT", "BTC"))  # type: ignore[return-value]


async def test_the_deals_pnl_is_net_of_the_commission_the_account_paid(spot_sim, deals_db):
    usdt, btc = balances(spot_sim)
    _, ask = book(spot_sim)
    signal = signal_at(spot_sim, ask + 5)  # marketable: fills at once
    executor = await SpotExecutor.create(config(spot_sim), deals_db)
    try:
        await executor.enter(signal, 1000.0 / signal.entry)
        await wait_until(lambda: len(orders(spot_sim, "SELL")) == 1, 10, "the SELL")
        (sell,) = orders(spot_sim, "SELL")
        await sell_through(spot_sim, executor, sell)
    finally:
        await executor.close()
    deal = await row(deals_db)
    assert deal["state"] == "closed" and deal["reason"] == "target"
    # what the account gained: the quote, and the base left over from the BUY (the commission
    # came out of it, the SELL sold whole steps) at the price it was bought at
    after_usdt, after_btc = balances(spot_sim)
    gained = after_usdt - usdt + (after_btc - btc) * deal["fill_price"]
    assert deal["pnl"] == pytest.approx(gained, abs=1e-6)
    gross = deal["sell_qty"] * (deal["exit_price"] - deal["fill_price"])
    assert deal["fees"] > 0 and deal["pnl"] == pytest.approx(gross - deal["fees"])


async def test_a_rejected_sell_backs_off_and_is_warned_about_once(spot_sim, deals_db, caplog):
    bid, _ = book(spot_sim)
    inst = spot_sim.spot.feeds[SYMBOL].instrument
    price = inst.price_float(bid)
    # a deal whose BUY filled, selling more BTC than the account holds: -2010 at every try
    deal = Deal(
        uuid.uuid4(), SYMBOL, "macd_book", "selling", 1000.0, markup=0.01, stop_frac=0.5,
        buy_price=price, buy_qty=0.01, filled_qty=0.01, fill_price=price,
        sell_price=inst.price_float(bid + 200), sell_qty=0.01,
    )  # fmt: skip
    await DealStore(deals_db).save(deal)
    caplog.set_level(logging.INFO, logger="strategy.spot.executor")
    executor = await SpotExecutor.create(config(spot_sim, SPOT_POLL_INTERVAL="0.05"), deals_db)
    try:
        await asyncio.sleep(1.5)  # 30 polls
        tries = [r for r in caplog.records if "SELL 0.01 at" in r.getMessage()]
        warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert 3 <= len(tries) <= 6  # 0.1, 0.2, 0.4, 0.8 s apart
        assert [r.getMessage() for r in warned] == [
            f"spot deal {deal.deal_id}: LIMIT SELL rejected (Account has insufficient balance "
            "for requested action.); retrying with a back-off, not logged again until it is "
            "accepted"
        ]
        spot_sim.spot_engine.accounts[DEFAULT_API_KEY].free["BTC"] += 0.01  # the BTC arrives
        await wait_until(lambda: len(orders(spot_sim, "SELL")) == 1, 10, "the SELL")
    finally:
        await executor.close()
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 2 and warned[1].startswith(f"spot deal {deal.deal_id}: SELL accepted")
    assert executor.rejected == {}
