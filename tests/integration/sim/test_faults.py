"""Each fault, switched on through the control API (as a separate process would be steered)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp
import orjson

from sim.server import Simulator
from tests.sim_fixtures import drain_text


async def control(http: aiohttp.ClientSession, sim: Simulator, name: str, **body: Any) -> Any:
    async with http.post(f"{sim.http_url}/sim/faults/{name}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_drop_connections_cuts_without_a_close_frame(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with (
        http.ws_connect(f"{sim.ws_url}/public/ws/btcusdt@depth") as public,
        http.ws_connect(f"{sim.ws_url}/market/ws/btcusdt@aggTrade") as market,
    ):
        reply = await control(http, sim, "drop", route="market")
        assert reply["result"] == 1
        message = await market.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert market.close_code != 1000
        await sim.advance(1_000)
        assert await drain_text(public)  # the other route is untouched


async def test_skip_depth_ids_breaks_the_pu_chain_once(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws/btcusdt@depth@100ms") as ws:
        await sim.advance(1_000)
        await control(http, sim, "skip_depth", symbol="BTCUSDT", count=2)
        await sim.advance(1_000)
        events = [orjson.loads(f) for f in await drain_text(ws)]
    breaks = [b for a, b in itertools.pairwise(events) if b["pu"] != a["u"]]
    assert len(breaks) == 1
    assert sim.truth is not None
    skipped = [e for e in sim.truth.depth_events["BTCUSDT", 100] if e["skipped"]]
    assert len(skipped) == 2 and breaks[0]["pu"] == skipped[-1]["u"]


async def test_silence_one_stream_keeps_the_others(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.ws_url}/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
    async with http.ws_connect(url) as ws:
        await control(http, sim, "silence", stream="btcusdt@aggTrade")
        await sim.advance(2_000)
        assert {orjson.loads(f)["stream"] for f in await drain_text(ws)} == {"ethusdt@aggTrade"}
        await control(http, sim, "unsilence", stream="btcusdt@aggTrade")
        await sim.advance(2_000)
        names = {orjson.loads(f)["stream"] for f in await drain_text(ws)}
        assert names == {"ethusdt@aggTrade", "btcusdt@aggTrade"}


async def test_malformed_frames(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws/btcusdt@bookTicker") as ws:
        await control(http, sim, "malformed", count=3)
        await sim.advance(2_000)
        frames = await drain_text(ws)
    bad = 0
    for frame in frames:
        try:
            orjson.loads(frame)
        except orjson.JSONDecodeError:
            bad += 1
    assert bad == 3 and len(frames) > 10


async def test_unknown_fields_are_added_to_payloads(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/market/ws/!markPrice@arr@1s") as ws:
        await control(http, sim, "unknown_fields", enabled=True, fields={"zz": "new"})
        await sim.advance(1_000)
        (payload,) = [orjson.loads(f) for f in await drain_text(ws)]
    assert all(item["zz"] == "new" and item["e"] == "markPriceUpdate" for item in payload)


async def test_forced_rest_statuses(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await control(http, sim, "rest", status=429, count=1, retry_after=7)
    await control(http, sim, "rest", status=418, count=1, path="/fapi/v1/depth")
    await control(http, sim, "rest", status=503, count=1)
    seen = []
    for _ in range(4):
        async with http.get(f"{sim.http_url}/fapi/v1/depth?symbol=BTCUSDT") as response:
            body = await response.json()
            seen.append((response.status, body.get("code", None)))
            if response.status == 429:
                assert response.headers["Retry-After"] == "7"
    assert seen == [(429, -1003), (418, -1003), (503, -1008), (200, None)]


async def test_slow_rest_answers(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await control(http, sim, "slow_rest", seconds=0.4, count=1)
    started = time.monotonic()
    async with http.get(f"{sim.http_url}/fapi/v1/ping") as response:
        assert response.status == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    async with http.get(f"{sim.http_url}/fapi/v1/ping") as response:
        assert response.status == 200
    assert time.monotonic() - started < 0.3


async def test_shortened_connection_age(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws") as ws:
        await control(http, sim, "max_age", seconds=0.5)
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1001


async def test_clear_switches_faults_off(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await control(http, sim, "silence", stream="btcusdt@aggTrade")
    await control(http, sim, "rest", status=500, count=5)
    reply = await control(http, sim, "clear")
    assert reply["faults"]["silenced"] == [] and reply["faults"]["rest_faults"] == []


async def test_control_truth_and_clock(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sim.http_url}/sim/clock", json={"advance_ms": 2_000}) as response:
        assert (await response.json())["result"]["now"] == sim.now
    for path in ("aggTrades", "depth", "markPrices", "openInterest", "forceOrders"):
        async with http.get(f"{sim.http_url}/sim/truth/{path}?symbol=BTCUSDT") as response:
            assert response.status == 200
            assert isinstance(await response.json(), list)
    async with http.get(f"{sim.http_url}/sim/status") as response:
        status = await response.json()
    assert status["paused"] and status["symbols"] == ["BTCUSDT", "ETHUSDT"]
    async with http.post(f"{sim.http_url}/sim/clock", json={"speed": 50, "paused": False}):
        pass
    before = sim.now
    await asyncio.sleep(0.3)
    assert sim.now > before
