"""The simulator's trading side over real sockets: signing, orders, algo orders, positions,
listen keys and the user-data stream, and the trading faults."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.cli import build, parse_args
from sim.server import Simulator
from tests.sim_fixtures import make_simulator


@pytest.fixture
async def exchange() -> AsyncIterator[Simulator]:
    """A live market on wall time (signed requests are checked against the server clock)."""
    async with make_simulator(
        paused=False, speed=1.0, start_ms=None, rate=40.0, symbols=["BTCUSDT"]
    ) as simulator:
        yield simulator


class Signed:
    """A minimal hand-written Binance signer, independent of the executor's client."""

    def __init__(self, http: aiohttp.ClientSession, sim: Simulator, key: str, secret: str) -> None:
        self.http, self.sim, self.key, self.secret = http, sim, key, secret
        self.offset = 0

    async def sync(self) -> None:
        async with self.http.get(f"{self.sim.http_url}/fapi/v1/time") as r:
            self.offset = (await r.json())["serverTime"] - int(time.time() * 1000)

    async def __call__(
        self, method: str, path: str, timestamp: int | None = None, **params: Any
    ) -> tuple[int, Any]:
        params["timestamp"] = timestamp or int(time.time() * 1000) + self.offset
        query = urlencode(params)
        signature = hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = f"{self.sim.http_url}{path}?{query}&signature={signature}"
        async with self.http.request(method, url, headers={"X-MBX-APIKEY": self.key}) as r:
            return r.status, await r.json()


@pytest.fixture
async def api(http: aiohttp.ClientSession, exchange: Simulator) -> Signed:
    signer = Signed(http, exchange, DEFAULT_API_KEY, DEFAULT_API_SECRET)
    await signer.sync()
    return signer


async def user_stream(
    http: aiohttp.ClientSession, sim: Simulator, events: str = ""
) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    headers = {"X-MBX-APIKEY": DEFAULT_API_KEY}
    async with http.post(f"{sim.http_url}/fapi/v1/listenKey", headers=headers) as r:
        key = (await r.json())["listenKey"]
    query = f"listenKey={key}" + (f"&events={events}" if events else "")
    return key, await http.ws_connect(f"{sim.ws_url}/private/ws?{query}")


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any) -> dict:
    while True:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        event = orjson.loads(message.data)
        body = event.get("o", {})
        if event["e"] == kind and all(body.get(k) == v for k, v in match.items()):
            return event


async def market(api: Signed, side: str, quantity: str = "0.010") -> tuple[int, Any]:
    return await api(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side=side, type="MARKET", quantity=quantity
    )


def price_of(sim: Simulator, symbol: str = "BTCUSDT") -> float:
    market = sim.feed.feeds[symbol].market  # type: ignore[union-attr]
    return market.instrument.price_float(market.last_tick)


async def test_market_order_fills_and_streams_trade_and_position(
    api: Signed, http: aiohttp.ClientSession, exchange: Simulator
) -> None:
    _, ws = await user_stream(http, exchange)
    status, order = await api(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET",
        quantity="0.010", newClientOrderId="t-market-1",
    )  # fmt: skip
    assert status == 200, order
    assert order["status"] == "FILLED" and order["executedQty"] == "0.010"
    assert order["clientOrderId"] == "t-market-1" and "avgPrice" not in order
    trade = await next_event(ws, "ORDER_TRADE_UPDATE", x="TRADE")
    assert trade["o"]["c"] == "t-market-1" and float(trade["o"]["n"]) > 0
    update = await next_event(ws, "ACCOUNT_UPDATE")
    assert update["a"]["m"] == "ORDER" and update["a"]["P"][0]["s"] == "BTCUSDT"
    _, risk = await api("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
    assert risk[0]["positionAmt"] == "0.010" and float(risk[0]["entryPrice"]) > 0
    _, query = await api("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="t-market-1")
    assert query["status"] == "FILLED" and float(query["avgPrice"]) == float(risk[0]["entryPrice"])
    await ws.close()


async def test_conditional_types_on_order_endpoint_are_rejected_with_4120(api: Signed) -> None:
    status, body = await api(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
        stopPrice="60000.0", closePosition="true",
    )  # fmt: skip
    assert status == 400 and body["code"] == -4120


async def test_stop_market_close_position_triggers_on_trades(
    api: Signed, http: aiohttp.ClientSession, exchange: Simulator
) -> None:
    _, ws = await user_stream(http, exchange, "ALGO_UPDATE/ACCOUNT_UPDATE")
    await market(api, "BUY")
    stop = f"{price_of(exchange) * 0.99:.1f}"
    status, algo = await api(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
        type="STOP_MARKET", triggerPrice=stop, closePosition="true", clientAlgoId="t-sl",
    )  # fmt: skip
    assert (
        status == 200 and algo["algoStatus"] == "NEW" and float(algo["triggerPrice"]) == float(stop)
    )
    _, open_algos = await api("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")
    assert [a["clientAlgoId"] for a in open_algos] == ["t-sl"]
    exchange.trade_to("BTCUSDT", f"{float(stop) - 5:.1f}")
    finished = await next_event(ws, "ALGO_UPDATE", X="FINISHED")
    assert finished["o"]["caid"] == "t-sl" and finished["o"]["ai"]
    _, risk = await api("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
    assert float(risk[0]["positionAmt"]) == 0
    _, open_algos = await api("GET", "/fapi/v1/openAlgoOrders")
    assert open_algos == []
    await ws.close()


async def test_algo_that_would_trigger_at_once_is_rejected(
    api: Signed, exchange: Simulator
) -> None:
    await market(api, "BUY")
    status, body = await api(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
        type="STOP_MARKET", triggerPrice=f"{price_of(exchange) * 1.01:.1f}", closePosition="true",
    )  # fmt: skip
    assert status == 400 and body["code"] == -2021


async def test_take_profit_reduce_only_quantity_and_limit_resting(
    api: Signed, http: aiohttp.ClientSession, exchange: Simulator
) -> None:
    _, ws = await user_stream(http, exchange, "ORDER_TRADE_UPDATE")
    limit = f"{price_of(exchange) * 0.995:.1f}"
    status, order = await api(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.020",
        price=limit, timeInForce="GTC", newClientOrderId="t-limit",
    )  # fmt: skip
    assert status == 200 and order["status"] == "NEW"
    _, opened = await api("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in opened] == ["t-limit"]
    exchange.trade_to("BTCUSDT", f"{float(limit) - 1:.1f}")
    filled = await next_event(ws, "ORDER_TRADE_UPDATE", c="t-limit", X="FILLED")
    assert filled["o"]["m"] is True and float(filled["o"]["L"]) == float(limit)
    target = f"{float(limit) * 1.002:.1f}"
    await api(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
        type="TAKE_PROFIT_MARKET", triggerPrice=target, quantity="0.010", reduceOnly="true",
        clientAlgoId="t-tp",
    )  # fmt: skip
    exchange.trade_to("BTCUSDT", f"{float(target) + 1:.1f}")
    tp = await next_event(ws, "ORDER_TRADE_UPDATE", c="t-tp", X="FILLED")
    assert tp["o"]["ot"] == "TAKE_PROFIT_MARKET" and float(tp["o"]["rp"]) > 0
    _, risk = await api("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
    assert risk[0]["positionAmt"] == "0.010"
    await ws.close()


async def test_signature_key_and_timestamp_errors(
    api: Signed, http: aiohttp.ClientSession, exchange: Simulator
) -> None:
    wrong = Signed(http, exchange, DEFAULT_API_KEY, "not-the-secret")
    wrong.offset = api.offset
    status, body = await wrong("GET", "/fapi/v2/account")
    assert (status, body["code"]) == (400, -1022)
    unknown = Signed(http, exchange, "A" * 64, DEFAULT_API_SECRET)
    status, body = await unknown("GET", "/fapi/v2/account")
    assert (status, body["code"]) == (401, -2015)
    bad = Signed(http, exchange, "not a key!", DEFAULT_API_SECRET)
    status, body = await bad("GET", "/fapi/v2/account")
    assert (status, body["code"]) == (401, -2014)
    stale = int(time.time() * 1000) + api.offset - 10_000
    status, body = await api("GET", "/fapi/v2/account", timestamp=stale)
    assert body["code"] == -1021 and "recvWindow" in body["msg"]
    exchange.faults.skew_clock(-5_000)
    status, body = await api("GET", "/fapi/v2/account")
    assert body["code"] == -1021 and "ahead" in body["msg"]
    await api.sync()
    status, body = await api("GET", "/fapi/v2/account")
    assert status == 200 and body["assets"][0]["asset"] == "USDT"


async def test_order_accepted_then_5xx_is_still_on_the_book(
    api: Signed, exchange: Simulator
) -> None:
    exchange.faults.fail_after_accept(502)
    limit = f"{price_of(exchange) * 0.99:.1f}"
    status, body = await api(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.010",
        price=limit, timeInForce="GTC", newClientOrderId="t-unknown",
    )  # fmt: skip
    assert status == 502 and body["code"] == -1001
    status, query = await api(
        "GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="t-unknown"
    )
    assert status == 200 and query["status"] == "NEW"
    status, body = await api(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.010",
        price=limit, timeInForce="GTC", newClientOrderId="t-unknown",
    )  # fmt: skip
    assert body["code"] == -4116  # the id is taken while the order is open
    status, cancelled = await api(
        "DELETE", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="t-unknown"
    )
    assert cancelled["status"] == "CANCELED"


async def test_reject_algo_fault_and_account_settings(api: Signed) -> None:
    status, body = await api("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=5)
    assert body == {"leverage": 5, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"}
    status, body = await api("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED")
    assert body == {"code": 200, "msg": "success"}
    status, body = await api("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED")
    assert body["code"] == -4046
    api.sim.faults.reject_algo(code=-2021)
    await market(api, "SELL")
    status, body = await api(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
        type="STOP_MARKET", triggerPrice=f"{price_of(api.sim) * 1.05:.1f}", closePosition="true",
    )  # fmt: skip
    assert status == 400 and body["code"] == -2021
    _, risk = await api("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
    assert risk[0]["positionAmt"] == "-0.010" and risk[0]["leverage"] == "5"
    assert risk[0]["marginType"] == "isolated"


async def test_listen_key_expiry_sends_event_and_keepalive_fails() -> None:
    sim = make_simulator(
        paused=False, speed=1.0, start_ms=None, symbols=["BTCUSDT"], listen_key_ttl=0.5
    )
    await sim.start()
    try:
        async with aiohttp.ClientSession() as http:
            key, ws = await user_stream(http, sim)
            message = await ws.receive(timeout=5)
            event = orjson.loads(message.data)
            assert event == {"e": "listenKeyExpired", "E": event["E"], "listenKey": key}
            headers = {"X-MBX-APIKEY": DEFAULT_API_KEY}
            async with http.put(f"{sim.http_url}/fapi/v1/listenKey", headers=headers) as r:
                assert (await r.json())["code"] == -1125
            async with http.get(f"{sim.ws_url}/private/ws?listenKey={key}") as r:
                assert r.status == 400
            await ws.close()
            key2, ws2 = await user_stream(http, sim)
            assert key2 != key
            assert sim.faults.expire_listen_keys() == 1
            message = await ws2.receive(timeout=5)
            assert orjson.loads(message.data)["e"] == "listenKeyExpired"
            await ws2.close()
    finally:
        await sim.stop()


async def test_order_rate_headers(api: Signed, http: aiohttp.ClientSession) -> None:
    query = urlencode(
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
         "timestamp": int(time.time() * 1000) + api.offset}
    )  # fmt: skip
    signature = hmac.new(DEFAULT_API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    url = f"{api.sim.http_url}/fapi/v1/order?{query}&signature={signature}"
    async with http.post(url, headers={"X-MBX-APIKEY": DEFAULT_API_KEY}) as r:
        assert r.status == 200
        assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1"
        assert r.headers["X-MBX-ORDER-COUNT-1M"] == "1"
    await asyncio.sleep(0)


async def test_control_api_faults_and_trade_to(
    api: Signed, http: aiohttp.ClientSession, exchange: Simulator
) -> None:
    base = f"{exchange.http_url}/sim"
    async with http.post(f"{base}/faults/after_accept", json={"status": 504}) as r:
        assert (await r.json())["faults"]["after_accept"][0]["status"] == 504
    status, body = await market(api, "BUY")
    assert (status, body["code"]) == (504, -1007)
    _, risk = await api("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
    assert risk[0]["positionAmt"] == "0.010"  # accepted although the answer was lost
    target = f"{price_of(exchange) + 50:.1f}"
    async with http.post(f"{base}/trade_to", json={"symbol": "BTCUSDT", "price": target}) as r:
        assert (await r.json())["result"] > 0
    assert price_of(exchange) == float(target)
    async with http.post(f"{base}/faults/clock_skew", json={"ms": 3000}) as r:
        assert (await r.json())["faults"]["clock_skew_ms"] == 3000
    async with http.post(f"{base}/faults/expire_listen_keys") as r:
        assert (await r.json())["result"] == 0


def test_cli_api_keys_and_listen_key_ttl(tmp_path, monkeypatch) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# accounts\nK1:S1\nK2:S2\n")
    sim = build(parse_args(["--api-keys-file", str(keys), "--listen-key-ttl", "5"]))
    assert {k: a.secret for k, a in sim.accounts.items()} == {"K1": "S1", "K2": "S2"}
    assert sim.userdata.ttl == 5.0
    monkeypatch.setenv("SIM_API_KEYS", "K3:S3")
    sim = build(parse_args([]))
    assert {k: a.secret for k, a in sim.accounts.items()} == {"K3": "S3"}
    monkeypatch.setenv("SIM_API_KEYS", "no-secret")
    with pytest.raises(SystemExit, match="SIM_API_KEYS wants KEY:SECRET"):
        build(parse_args([]))
    with pytest.raises(SystemExit, match="--api-key is gone"):
        build(parse_args(["--api-key", "K1:S1"]))
