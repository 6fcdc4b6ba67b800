"""The simulator's spot side over real sockets: spot's stream paths and payloads, the
``U == previous u + 1`` depth chain, ``/api/v3`` REST with spot's weights, and futures untouched."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import aiohttp
import orjson
import pytest

from sim.server import Simulator
from tests.sim_fixtures import drain_text, make_simulator, request

SPOT_AGG_TRADE_KEYS = ["e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"]
SPOT_DEPTH_KEYS = ["e", "E", "s", "U", "u", "b", "a"]


@pytest.fixture
async def spot_sim():
    # one long weight window: the weight assertions never straddle a minute boundary
    simulator = make_simulator(spot_symbols=["BTCUSDT"], weight_window=1e9)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def _decoded(frames: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(f) for f in frames]


async def test_spot_streams_carry_spot_payloads_that_chain_and_match_truth(spot_sim, http):
    url = spot_sim.spot_ws_url + "/stream?streams=btcusdt@aggTrade/btcusdt@depth@100ms"
    async with http.ws_connect(url) as ws:
        await asyncio.sleep(0.1)
        await spot_sim.advance(3000)
        frames = _decoded(await drain_text(ws))
    trades = [f["data"] for f in frames if f["stream"] == "btcusdt@aggTrade"]
    diffs = [f["data"] for f in frames if f["stream"] == "btcusdt@depth@100ms"]
    assert len(trades) > 20 and len(diffs) > 10
    assert all(list(t) == SPOT_AGG_TRADE_KEYS for t in trades)
    assert all(list(d) == SPOT_DEPTH_KEYS for d in diffs)
    for prev, nxt in pairwise(diffs):
        assert nxt["U"] == prev["u"] + 1  # spot's chaining rule
    truth = spot_sim.spot_truth
    assert [t["a"] for t in trades] == [t["a"] for t in truth.agg_trades["BTCUSDT"]]
    assert [d["u"] for d in diffs] == [d["u"] for d in truth.depth_events["BTCUSDT", 100]]
    # the spot market is its own: its trade ids are not the futures market's
    futures_ids = {t["a"] for t in spot_sim.truth.agg_trades["BTCUSDT"]}
    assert not futures_ids & {t["a"] for t in trades}


async def test_spot_raw_path_1000ms_depth_and_symbols_not_on_spot(spot_sim, http):
    async with http.ws_connect(spot_sim.spot_ws_url + "/ws/btcusdt@depth") as ws:
        reply = await request(ws, "SUBSCRIBE", ["ethusdt@aggTrade"])  # not listed on spot
        assert reply == {"result": None, "id": 1}
        await spot_sim.advance(3000)
        frames = _decoded(await drain_text(ws))
    assert frames and all(f["e"] == "depthUpdate" and f["s"] == "BTCUSDT" for f in frames)
    assert all(f["E"] % 1000 == 0 for f in frames)  # @depth is the 1000 ms stream on spot


async def test_spot_connection_over_five_messages_a_second_is_closed(spot_sim, http):
    async with http.ws_connect(spot_sim.spot_ws_url + "/ws") as ws:
        for i in range(7):
            await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        closed = None
        for _ in range(10):
            message = await ws.receive(timeout=5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                closed = message
                break
    assert closed is not None and ws.close_code == 1008


async def test_spot_rest_depth_agg_trades_exchange_info_and_weights(spot_sim, http):
    await spot_sim.advance(2000)
    base = spot_sim.http_url + "/api/v3"
    async with http.get(base + "/depth", params={"symbol": "BTCUSDT", "limit": 1000}) as r:
        snapshot = await r.json()
        assert r.status == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "50"
    assert set(snapshot) == {"lastUpdateId", "bids", "asks"}
    book = spot_sim.spot_book("BTCUSDT", snapshot["lastUpdateId"])
    assert (
        book["lastUpdateId"]
        == snapshot["lastUpdateId"]
        == spot_sim.spot_book("BTCUSDT")["lastUpdateId"]
    )
    assert snapshot["bids"] == book["bids"][:1000] and snapshot["asks"] == book["asks"][:1000]
    async with http.get(base + "/depth", params={"symbol": "BTCUSDT", "limit": 5000}) as r:
        assert r.status == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == str(50 + 250)
    async with http.get(base + "/depth", params={"symbol": "BTCUSDT", "limit": 5001}) as r:
        assert r.status == 400 and (await r.json())["code"] == -1130

    produced = spot_sim.spot_truth.agg_trades["BTCUSDT"]
    from_id = produced[5]["a"]
    async with http.get(
        base + "/aggTrades", params={"symbol": "BTCUSDT", "fromId": from_id, "limit": 10}
    ) as r:
        page = await r.json()
        assert r.headers["X-MBX-USED-WEIGHT-1M"] == str(301 + 4)  # the rejected request cost 1
    assert [t["a"] for t in page] == [t["a"] for t in produced[5:15]]
    assert page[0] == {**{k: produced[5][k] for k in "apqflTm"}, "M": True}
    start = produced[3]["T"]
    async with http.get(
        base + "/aggTrades", params={"symbol": "BTCUSDT", "startTime": start, "limit": 3}
    ) as r:
        assert [t["T"] >= start for t in await r.json()] == [True] * 3

    async with http.get(base + "/exchangeInfo") as r:
        info = await r.json()
        assert r.headers["X-MBX-USED-WEIGHT-1M"] == str(309 + 20)
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]
    weight = info["rateLimits"][0]
    assert (weight["rateLimitType"], weight["limit"]) == ("REQUEST_WEIGHT", 6000)
    async with http.get(base + "/ping") as r:
        assert await r.json() == {}
    async with http.get(base + "/time") as r:
        assert (await r.json())["serverTime"] == spot_sim.now
    async with http.get(base + "/depth", params={"symbol": "ETHUSDT"}) as r:
        assert r.status == 400 and (await r.json())["code"] == -1121
    # spot's budget is its own: the futures endpoint has used nothing yet
    async with http.get(spot_sim.http_url + "/fapi/v1/ping") as r:
        assert r.headers["X-MBX-USED-WEIGHT-1M"] == "1"


async def test_spot_connections_are_dropped_by_the_route_fault(spot_sim, http):
    async with (
        http.ws_connect(spot_sim.spot_ws_url + "/ws/btcusdt@aggTrade") as spot_ws,
        http.ws_connect(spot_sim.ws_url + "/market/ws/btcusdt@aggTrade") as futures_ws,
    ):
        await asyncio.sleep(0.1)
        assert spot_sim.faults.drop_connections(route="spot") == 1
        message = await spot_ws.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert not futures_ws.closed


async def test_futures_market_is_the_same_with_or_without_spot():
    async def run(**options: Any) -> tuple[list[int], list[int]]:
        sim: Simulator = make_simulator(**options)
        await sim.start()
        try:
            await sim.advance(2000)
            truth = sim.truth
            return (
                [t["a"] for t in truth.agg_trades["BTCUSDT"]],
                [d["u"] for d in truth.depth_events["BTCUSDT", 100]],
            )
        finally:
            await sim.stop()

    assert await run() == await run(spot_symbols=["BTCUSDT", "ETHUSDT"])


async def test_control_api_serves_spot_truth(spot_sim, http):
    await spot_sim.advance(1000)
    base = spot_sim.http_url + "/sim/truth"
    query = {"symbol": "BTCUSDT", "market": "spot"}
    async with http.get(base + "/aggTrades", params=query) as r:
        assert await r.json() == spot_sim.spot_truth.agg_trades["BTCUSDT"]
    async with http.get(base + "/depth", params={**query, "speed": 100}) as r:
        assert await r.json() == spot_sim.spot_truth.depth_events["BTCUSDT", 100]
    async with http.get(base + "/book", params=query) as r:
        assert await r.json() == spot_sim.spot_book("BTCUSDT")
    async with http.get(base + "/aggTrades", params={"symbol": "BTCUSDT"}) as r:
        assert await r.json() == spot_sim.truth.agg_trades["BTCUSDT"]  # futures by default
