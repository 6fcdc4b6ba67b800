"""The simulator's Bybit v5 linear side over real sockets: ops and acks, ping/pong, the idle cut,
orderbook snapshot + deltas (``u`` + 1, top-N levels equal to the truth's full book at ``seq``),
trades with UUID ids, liquidations with Bybit's side, tickers as deltas of changed fields, the
faults (a gap in ``u``, the ``u == 1`` restart, a dropped connection) and ``/v5/market`` REST
with its envelope and the 403 ban."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from itertools import pairwise
from typing import Any

import aiohttp
import orjson
import pytest

from sim.script import Episode, Script
from sim.server import Simulator
from tests.sim_fixtures import drain_text, make_simulator

PANIC = Script([Episode("panic_selloff", 0, 60, "BTCUSDT")])


@pytest.fixture
async def bybit_sim() -> AsyncIterator[Simulator]:
    simulator = make_simulator(bybit_symbols=["BTCUSDT", "ETHUSDT"], script=PANIC)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def send(ws: aiohttp.ClientWebSocketResponse, body: dict[str, Any]) -> dict[str, Any]:
    """Send one op and return its ack (no data frames can come before it on a fresh topic)."""
    await ws.send_str(orjson.dumps(body).decode())
    while True:
        reply = orjson.loads((await ws.receive(timeout=5)).data)
        if "op" in reply:
            return reply


def frames_of(raw: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(f) for f in raw]


def apply(book: dict[str, dict[Decimal, Decimal]], data: dict[str, Any]) -> None:
    for side, key in (("b", "b"), ("a", "a")):
        for price, size in data[key]:
            if Decimal(size) == 0:
                book[side].pop(Decimal(price), None)
            else:
                book[side][Decimal(price)] = Decimal(size)


def levels(book: dict[str, dict[Decimal, Decimal]]) -> dict[str, list[tuple[Decimal, Decimal]]]:
    return {
        "b": sorted(book["b"].items(), reverse=True),
        "a": sorted(book["a"].items()),
    }


def as_levels(rows: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in rows]


async def test_subscribe_ack_then_snapshot_then_chained_deltas_equal_the_truth(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        reply = await send(
            ws, {"op": "subscribe", "req_id": "r1", "args": ["orderbook.50.BTCUSDT"]}
        )
        assert reply["success"] is True and reply["op"] == "subscribe" and reply["req_id"] == "r1"
        await bybit_sim.advance(3000)
        frames = frames_of(await drain_text(ws))
    assert frames[0]["type"] == "snapshot"
    deltas = frames[1:]
    assert len(deltas) > 50 and all(f["type"] == "delta" for f in deltas)
    for prev, nxt in pairwise(frames):
        assert nxt["data"]["u"] == prev["data"]["u"] + 1
        assert nxt["data"]["seq"] >= prev["data"]["seq"]
    book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    apply(book, frames[0]["data"])
    truth = bybit_sim.bybit_truth
    for i, frame in enumerate(deltas):
        apply(book, frame["data"])
        if i % 10 == 0:  # the full book at seq, cut to 50 levels, is what the client holds
            full = truth.book_at("BTCUSDT", frame["data"]["seq"])
            assert levels(book) == {
                "b": as_levels(full["bids"][:50]),
                "a": as_levels(full["asks"][:50]),
            }
    published = bybit_sim.bybit.book("BTCUSDT", 50)
    assert published["u"] == deltas[-1]["data"]["u"]
    assert levels(book) == {"b": as_levels(published["b"]), "a": as_levels(published["a"])}
    assert [f["data"]["u"] for f in deltas] == [
        e["data"]["u"] for e in truth.orderbook["BTCUSDT", 50][-len(deltas) :]
    ]


async def test_every_trade_once_with_uuid_ids_and_taker_side(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["publicTrade.BTCUSDT"]})
        await bybit_sim.advance(3000)
        frames = frames_of(await drain_text(ws))
    trades = [t for f in frames for t in f["data"]]
    truth = bybit_sim.bybit_truth.trades["BTCUSDT"]
    assert len(trades) > 50 and trades == truth
    assert len({t["i"] for t in trades}) == len(trades)
    assert all(uuid.UUID(t["i"]).version == 4 for t in trades)
    assert {t["S"] for t in trades} <= {"Buy", "Sell"}
    assert all(list(t) == ["T", "s", "S", "v", "p", "L", "i", "BT", "RPI", "seq"] for t in trades)
    assert all(f["topic"] == "publicTrade.BTCUSDT" and f["type"] == "snapshot" for f in frames)


async def test_liquidations_every_one_with_the_position_side(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["allLiquidation.BTCUSDT"]})
        await bybit_sim.advance(10_000)
        frames = frames_of(await drain_text(ws))
    delivered = [x for f in frames for x in f["data"]]
    assert delivered and delivered == bybit_sim.bybit_truth.liquidations["BTCUSDT"]
    assert all(f["ts"] % 500 == 0 for f in frames)
    # a panic sell-off liquidates longs: Bybit names them by the position, "Buy"
    assert sum(x["S"] == "Buy" for x in delivered) > sum(x["S"] == "Sell" for x in delivered)


async def test_tickers_snapshot_then_deltas_of_changed_fields_only(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        await bybit_sim.advance(2000)
        frames = frames_of(await drain_text(ws))
    assert frames[0]["type"] == "snapshot"
    state = dict(frames[0]["data"])
    assert {"markPrice", "indexPrice", "fundingRate", "openInterest", "bid1Price"} <= set(state)
    deltas = frames[1:]
    assert deltas and all(f["type"] == "delta" for f in deltas)
    assert any(len(f["data"]) < len(state) for f in deltas)  # unchanged fields left out
    for frame in deltas:
        for key, value in frame["data"].items():
            assert key == "symbol" or state[key] != value  # only what changed
        state.update(frame["data"])
    assert state == bybit_sim.bybit.feeds["BTCUSDT"].ticker


async def test_ping_pong_unknown_topic_and_double_subscription(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        pong = await send(ws, {"op": "ping", "req_id": "p"})
        assert pong["success"] is True and pong["ret_msg"] == "pong" and pong["op"] == "ping"
        bad = await send(ws, {"op": "subscribe", "args": ["orderbook.7.BTCUSDT", "tickers.X"]})
        assert bad["success"] is False
        assert "handler not found,topic:orderbook.7.BTCUSDT" in bad["ret_msg"]
        await send(ws, {"op": "subscribe", "args": ["publicTrade.ETHUSDT"]})
        again = await send(ws, {"op": "subscribe", "args": ["publicTrade.ETHUSDT"]})
        assert again["success"] is False and "already subscribed" in again["ret_msg"]
        gone = await send(ws, {"op": "unsubscribe", "args": ["publicTrade.ETHUSDT"]})
        assert gone["success"] is True
        await bybit_sim.advance(1000)
        assert await drain_text(ws) == []


async def test_a_silent_client_is_disconnected(http):
    sim = make_simulator(bybit_symbols=["BTCUSDT"], bybit_idle_timeout=0.5)
    await sim.start()
    try:
        async with http.ws_connect(sim.bybit_ws_url) as ws:
            message = await ws.receive(timeout=5)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        await sim.stop()


async def test_skipped_deltas_leave_a_gap_in_u_and_restart_resets_to_one(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["orderbook.200.BTCUSDT"]})
        await bybit_sim.advance(500)
        bybit_sim.bybit.skip_deltas("BTCUSDT", 2)
        await bybit_sim.advance(1000)
        bybit_sim.bybit.restart("BTCUSDT")
        await bybit_sim.advance(500)
        frames = frames_of(await drain_text(ws))
    us = [f["data"]["u"] for f in frames]
    jumps = [b - a for a, b in pairwise(us)]
    assert 3 in jumps  # two withheld deltas
    reset = us.index(1)
    assert frames[reset]["type"] == "snapshot" and us[reset + 1] == 2
    skipped = [e for e in bybit_sim.bybit_truth.orderbook["BTCUSDT", 200] if e["skipped"]]
    assert len(skipped) == 2
    # the restart snapshot is the book itself, cut to 200 levels
    full = bybit_sim.bybit_truth.book_at("BTCUSDT", frames[reset]["data"]["seq"])
    assert as_levels(frames[reset]["data"]["b"]) == as_levels(full["bids"][:200])


async def test_dropped_connection_and_a_new_subscriber_gets_a_fresh_snapshot(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]})
        assert bybit_sim.faults.drop_connections(route="bybit") == 1
        message = await ws.receive(timeout=5)
        while message.type == aiohttp.WSMsgType.TEXT:  # the snapshot sent before the cut
            message = await ws.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await bybit_sim.advance(500)
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]})
        first = orjson.loads((await ws.receive(timeout=5)).data)
    assert first["type"] == "snapshot"
    assert first["data"]["u"] == bybit_sim.bybit.book("ETHUSDT", 50)["u"]


async def get(http: aiohttp.ClientSession, sim: Simulator, path: str) -> dict[str, Any]:
    async with http.get(sim.http_url + path) as response:
        assert response.status == 200
        return await response.json()


async def test_rest_envelope_and_market_endpoints(bybit_sim, http):
    await bybit_sim.advance(3000)
    body = await get(http, bybit_sim, "/v5/market/instruments-info?category=linear&limit=1")
    assert set(body) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
    assert body["retCode"] == 0 and body["time"] == bybit_sim.now
    first = body["result"]["list"][0]
    assert first["priceFilter"]["tickSize"] == "0.10" and first["status"] == "Trading"
    cursor = body["result"]["nextPageCursor"]
    path = f"/v5/market/instruments-info?category=linear&cursor={cursor}"
    rest = await get(http, bybit_sim, path)
    assert [i["symbol"] for i in rest["result"]["list"]] == ["ETHUSDT"]
    assert rest["result"]["nextPageCursor"] == ""

    tickers = await get(http, bybit_sim, "/v5/market/tickers?category=linear")
    assert {t["symbol"] for t in tickers["result"]["list"]} == {"BTCUSDT", "ETHUSDT"}
    assert all(Decimal(t["turnover24h"]) > 0 for t in tickers["result"]["list"])

    trades = await get(http, bybit_sim, "/v5/market/recent-trade?category=linear&symbol=BTCUSDT")
    listed = trades["result"]["list"]
    truth = bybit_sim.bybit_truth.trades["BTCUSDT"]
    assert len(listed) == 500  # the default limit
    assert [t["execId"] for t in listed] == [t["i"] for t in reversed(truth[-500:])]
    most = await get(
        http, bybit_sim, "/v5/market/recent-trade?category=linear&symbol=BTCUSDT&limit=1000"
    )
    assert len(truth) > 1000 and len(most["result"]["list"]) == 1000  # the window is 1,000

    book = await get(http, bybit_sim, "/v5/market/orderbook?category=linear&symbol=BTCUSDT")
    now = bybit_sim.bybit_truth.book_at("BTCUSDT", book["result"]["seq"])
    assert book["result"]["b"] == now["bids"][:25] and book["result"]["a"] == now["asks"][:25]

    refused = await get(http, bybit_sim, "/v5/market/recent-trade?category=linear&symbol=NOPE")
    assert refused["retCode"] == 10001 and refused["result"] == {}
    spot = await get(http, bybit_sim, "/v5/market/tickers?category=spot")
    assert spot["retCode"] == 10001


async def test_open_interest_history_at_five_minute_boundaries(http):
    sim = make_simulator(bybit_symbols=["BTCUSDT"], rate=20.0)
    await sim.start()
    try:
        await sim.advance(11 * 60_000)
        path = "/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=5min&limit=1"
        page = await get(http, sim, path)
        rows = page["result"]["list"]
        assert len(rows) == 1 and int(rows[0]["timestamp"]) % 300_000 == 0
        older = await get(http, sim, f"{path}&cursor={page['result']['nextPageCursor']}")
        assert int(older["result"]["list"][0]["timestamp"]) == int(rows[0]["timestamp"]) - 300_000
        wrong = await get(http, sim, path.replace("5min", "7min"))
        assert wrong["retCode"] == 10001
    finally:
        await sim.stop()


async def test_more_than_the_ip_limit_is_banned_with_403(http):
    sim = make_simulator(bybit_symbols=["BTCUSDT"], bybit_ip_limit=5, bybit_ban_seconds=600)
    await sim.start()
    try:
        url = sim.http_url + "/v5/market/tickers?category=linear"
        statuses = []
        for _ in range(8):
            async with http.get(url) as response:
                statuses.append(response.status)
                if response.status == 403:
                    assert "access too frequent" in await response.text()
        assert statuses == [200] * 5 + [403] * 3  # banned: the next ones are refused as well
        sim.bybit_rest.limiter.lift()
        sim.bybit_rest.limiter.ban(0.2)  # the fault: a ban now, for everyone
        async with http.get(url) as response:
            assert response.status == 403
        await asyncio.sleep(0.3)
        async with http.get(url) as response:
            assert response.status == 200
    finally:
        await sim.stop()


async def test_binance_side_unchanged_when_bybit_is_on():
    plain = make_simulator()
    both = make_simulator(bybit_symbols=["BTCUSDT"])
    for sim in (plain, both):
        await sim.start()
        await sim.advance(2000)
        await sim.stop()
    assert plain.truth.agg_trades == both.truth.agg_trades


async def test_control_api_steers_the_bybit_side(bybit_sim, http):
    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(bybit_sim.http_url + path, json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        await send(ws, {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]})
        await post("/sim/bybit/skip_deltas", {"symbol": "BTCUSDT", "count": 1, "depth": 50})
        await bybit_sim.advance(500)
        await post("/sim/bybit/restart", {"symbol": "BTCUSDT"})
        frames = frames_of(await drain_text(ws))
    us = [f["data"]["u"] for f in frames]
    assert us[-1] == 1 and 2 in [b - a for a, b in pairwise(us[:-1])]
    await post("/sim/bybit/turnover", {"symbol": "ETHUSDT", "turnover24h": "123.5"})
    tickers = await get(http, bybit_sim, "/v5/market/tickers?category=linear&symbol=ETHUSDT")
    assert tickers["result"]["list"][0]["turnover24h"] == "123.5"
    async with http.get(bybit_sim.http_url + "/sim/truth/bybit/book?symbol=BTCUSDT") as r:
        assert (await r.json())["u"] == 1
    async with http.get(bybit_sim.http_url + "/sim/truth/bybit/trades?symbol=BTCUSDT") as r:
        assert await r.json() == bybit_sim.bybit_truth.trades["BTCUSDT"]
    await post("/sim/bybit/ban", {"seconds": 60})
    async with http.get(bybit_sim.http_url + "/v5/market/tickers?category=linear") as r:
        assert r.status == 403
    async with http.post(bybit_sim.http_url + "/sim/bybit/restart", json={"symbol": "X"}) as r:
        assert r.status == 400


async def test_topics_over_21000_characters_are_refused(bybit_sim, http):
    async with http.ws_connect(bybit_sim.bybit_ws_url) as ws:
        many = [f"tickers.COIN{i:05d}USDT" for i in range(1001)]  # 21,021 characters
        reply = await send(ws, {"op": "subscribe", "args": many})
        assert reply["success"] is False and "21000" in reply["ret_msg"]
        ok = await send(ws, {"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        assert ok["success"] is True  # nothing of the refused request was kept
