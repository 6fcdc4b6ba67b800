"""The simulator's spot trading over real sockets: signed /api/v3 orders lock and move balances,
LIMIT orders rest and fill once spot trades through them, cancel releases the lock, and spot's
error codes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from sim.spot_orders import SPOT_FEE
from tests.integration.sim.test_trading import Signed
from tests.sim_fixtures import make_simulator


@pytest.fixture
async def spot_exchange() -> AsyncIterator[Simulator]:
    async with make_simulator(
        paused=False, speed=1.0, start_ms=None, rate=40.0, symbols=["BTCUSDT"],
        spot_symbols=["BTCUSDT"],
    ) as simulator:  # fmt: skip
        yield simulator


@pytest.fixture
async def spot_api(http: aiohttp.ClientSession, spot_exchange: Simulator) -> Signed:
    signer = Signed(http, spot_exchange, DEFAULT_API_KEY, DEFAULT_API_SECRET)
    await signer.sync()
    return signer


async def balances(api: Signed) -> dict[str, tuple[float, float]]:
    status, body = await api("GET", "/api/v3/account")
    assert status == 200, body
    return {b["asset"]: (float(b["free"]), float(b["locked"])) for b in body["balances"]}


def best(sim: Simulator) -> tuple[int, int]:
    assert sim.spot is not None
    book = sim.spot.feeds["BTCUSDT"].market.book
    return book.best_bid(), book.best_ask()  # type: ignore[return-value]


async def test_limit_buy_rests_locks_quote_and_fills_when_spot_trades_through(
    spot_exchange, spot_api
):
    inst = spot_exchange.spot.feeds["BTCUSDT"].instrument
    bid, _ = best(spot_exchange)
    price = inst.price_str(bid - 50)
    status, order = await spot_api(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
        timeInForce="GTC", quantity="0.010", price=price, newClientOrderId="t-buy-1",
    )  # fmt: skip
    assert status == 200, order
    assert order["status"] == "NEW" and order["clientOrderId"] == "t-buy-1"
    free, locked = (await balances(spot_api))["USDT"]
    assert locked == pytest.approx(0.010 * float(price))
    assert free == pytest.approx(10_000 - locked)
    _, opened = await spot_api("GET", "/api/v3/openOrders", symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in opened] == ["t-buy-1"]
    spot_exchange.spot.sweep_to("BTCUSDT", bid - 51)  # trades through the order's price
    spot_exchange.spot_engine.on_market()
    _, done = await spot_api("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="t-buy-1")
    assert done["status"] == "FILLED" and done["executedQty"] == "0.010"
    after = await balances(spot_api)
    assert after["USDT"] == pytest.approx((10_000 - 0.010 * float(price), 0.0))
    assert after["BTC"] == pytest.approx((0.010 * (1 - SPOT_FEE), 0.0))


async def test_cancel_releases_the_lock_and_errors_are_spots(spot_exchange, spot_api):
    inst = spot_exchange.spot.feeds["BTCUSDT"].instrument
    bid, _ = best(spot_exchange)
    params = {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.010", "price": inst.price_str(bid - 50), "newClientOrderId": "t-c",
    }  # fmt: skip
    assert (await spot_api("POST", "/api/v3/order", **params))[0] == 200
    status, dup = await spot_api("POST", "/api/v3/order", **params)
    assert (status, dup["code"]) == (400, -2010)  # a second open order with that client id
    status, gone = await spot_api(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="t-c"
    )
    assert status == 200 and gone["status"] == "CANCELED"
    assert (await balances(spot_api))["USDT"] == pytest.approx((10_000, 0.0))
    status, unknown = await spot_api(
        "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="nope"
    )
    assert (status, unknown["code"]) == (400, -2013)
    status, poor = await spot_api(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
    )
    assert (status, poor["code"]) == (400, -2010)  # no BTC to sell
    status, small = await spot_api(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
        quantity="0.001", price=inst.price_str(1000),
    )  # fmt: skip
    assert (status, small["code"]) == (400, -1013)  # under the NOTIONAL filter


async def test_market_buy_then_sell_round_trip_moves_both_assets(spot_exchange, spot_api):
    status, buy = await spot_api(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    assert status == 200 and buy["status"] == "FILLED", buy
    spent = float(buy["cummulativeQuoteQty"])
    held = (await balances(spot_api))["BTC"][0]
    assert held == pytest.approx(0.010 * (1 - SPOT_FEE))
    status, sell = await spot_api(
        "POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.009"
    )
    assert status == 200 and sell["status"] == "FILLED", sell
    got = float(sell["cummulativeQuoteQty"]) * (1 - SPOT_FEE)
    after = await balances(spot_api)
    assert after["USDT"][0] == pytest.approx(10_000 - spent + got)
    assert after["BTC"][0] == pytest.approx(held - 0.009)
