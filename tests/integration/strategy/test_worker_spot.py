"""EXECUTION=binance-spot end to end: the live worker on the macd_book preset (time-scaled as in
test_preset_episodes) against the simulator's MACD episode, its deal traded on the simulator's
spot side — the BUY placed, re-placed after its lifetime, filled while the worker is stopped,
the SELL at the markup placed by the restarted worker (no second BUY), filled, the deal closed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from strategy.cli import run_strategy
from tests.integration.recorder.conftest import wait_until
from tests.integration.strategy.test_preset_episodes import SYMBOL, fast, script


@pytest.fixture
async def spot_db(strategy_db: str) -> str:
    conn = await asyncpg.connect(strategy_db)
    try:
        await conn.execute("TRUNCATE spot_deals")
    finally:
        await conn.close()
    return strategy_db


def orders(sim: Simulator, side: str) -> list[Any]:
    assert sim.spot_engine is not None
    account = sim.spot_engine.accounts[DEFAULT_API_KEY]
    return [o for o in account.orders.values() if o.side == side]


async def test_macd_deal_is_bought_replaced_sold_at_the_markup_across_a_restart(
    record_session, spot_db, monkeypatch
):
    config = replace(fast("macd_book"), executor="binance-spot")
    deals: list[asyncpg.Record] = []

    async def worker(stop: asyncio.Event) -> asyncio.Task[None]:
        return asyncio.create_task(run_strategy(spot_db, config, stop))

    async def drive(sim: Simulator, recorder: object) -> None:
        for name, value in {
            "BINANCE_SPOT_API_KEY": DEFAULT_API_KEY, "BINANCE_SPOT_API_SECRET": DEFAULT_API_SECRET,
            "BINANCE_SPOT_TRADE_REST_URL": sim.http_url, "SPOT_ORDER_LIFETIME": "1",
            "SPOT_BUY_ATTEMPTS": "20", "SPOT_POLL_INTERVAL": "0.2", "SPOT_DEAL_QUOTA": "1000",
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        assert sim.spot is not None
        spot = sim.spot.feeds[SYMBOL]
        # spot trades 2 % above futures: the BUY at the (futures) signal price rests
        sim.spot.sweep_to(SYMBOL, int(spot.market.last_tick * 1.02))
        stop = asyncio.Event()
        task = await worker(stop)
        await wait_until(lambda: len(orders(sim, "BUY")) >= 2, 90, "a BUY re-placed")
        stop.set()
        await asyncio.wait_for(task, 30)
        latest = max(orders(sim, "BUY"), key=lambda o: o.order_id)
        if latest.status == "NEW":  # (CANCELED: stopped between a cancel and its re-placement)
            sim.spot.sweep_to(SYMBOL, latest.tick - 1)  # it fills while the worker is down
            await wait_until(lambda: latest.status == "FILLED", 10, "the BUY filled")
        bought = len(orders(sim, "BUY"))

        monkeypatch.setenv("SPOT_ORDER_LIFETIME", "60")
        stop = asyncio.Event()
        task = await worker(stop)
        if latest.status == "CANCELED":  # the restarted worker places the next attempt
            await wait_until(lambda: len(orders(sim, "BUY")) > bought, 60, "the next BUY")
            latest = max(orders(sim, "BUY"), key=lambda o: o.order_id)
            sim.spot.sweep_to(SYMBOL, latest.tick - 1)
            bought += 1
        await wait_until(lambda: len(orders(sim, "SELL")) == 1, 60, "the SELL")
        (sell,) = orders(sim, "SELL")
        buys = orders(sim, "BUY")
        assert len(buys) == bought  # continued: no second BUY of an attempt
        assert len({o.client_id for o in buys}) == len(buys)
        assert latest.client_id.endswith(f"-b{len(buys) - 1}") and latest.status == "FILLED"
        sim.spot.sweep_to(SYMBOL, sell.tick + 1)
        await wait_until(lambda: sell.status == "FILLED", 10, "the SELL filled")
        conn = await asyncpg.connect(spot_db)
        try:
            for _ in range(100):
                deals[:] = await conn.fetch("SELECT * FROM spot_deals")
                if deals and deals[0]["state"] == "closed":
                    break
                await asyncio.sleep(0.1)
            signals = await conn.fetch("SELECT * FROM signals WHERE decision = 'accepted'")
        finally:
            await conn.close()
        stop.set()
        await asyncio.wait_for(task, 30)
        assert [s["signal_id"] for s in signals] == [d["deal_id"] for d in deals]

    await record_session(script("macd"), 120, speed=20.0, spot_symbols=[SYMBOL], on_running=drive)
    (deal,) = deals
    assert deal["state"] == "closed" and deal["reason"] == "target" and deal["pnl"] > 0
    assert deal["attempt"] >= 1 and deal["fill_price"] > 0
