"""Blast mode: pre-serialised frames at full speed, still chained the way clients check them."""

from __future__ import annotations

import time
from itertools import pairwise

import aiohttp
import orjson

from tests.sim_fixtures import make_simulator, receive_json
from tests.unit.sim import binance_examples as ex


async def take(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    frames = []
    deadline = time.monotonic() + 20
    while len(frames) < count and time.monotonic() < deadline:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT
        frames.append(orjson.loads(message.data))
    return frames


async def test_blast_frames_are_well_formed_and_chained(http: aiohttp.ClientSession) -> None:
    async with make_simulator(blast=True, speed=0, paused=False, rate=2_000) as sim:
        url = f"{sim.ws_url}/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
        async with (
            http.ws_connect(url) as public,
            http.ws_connect(f"{sim.ws_url}/market/ws/btcusdt@aggTrade") as market,
        ):
            trades = await take(market, 5_000)
            public_frames = await take(public, 5_000)
            async with http.get(f"{sim.http_url}/fapi/v1/depth?symbol=BTCUSDT") as response:
                snapshot = await response.json()
            first = None
            deadline = time.monotonic() + 20
            while first is None and time.monotonic() < deadline:  # frames in flight come first
                frame = await receive_json(public)
                data = frame["data"]
                if (
                    frame["stream"] == "btcusdt@depth@100ms"
                    and data["u"] >= snapshot["lastUpdateId"]
                ):
                    first = data
    assert all(ex.same_shape(t, ex.AGG_TRADE) == [] for t in trades)
    assert all(b["a"] == a["a"] + 1 and b["f"] == a["l"] + 1 for a, b in pairwise(trades))
    depth = [f["data"] for f in public_frames if f["stream"] == "btcusdt@depth@100ms"]
    tickers = [f["data"] for f in public_frames if f["stream"] == "btcusdt@bookTicker"]
    assert depth and tickers
    assert all(ex.same_shape(d, ex.DEPTH_UPDATE) == [] for d in depth)
    assert all(ex.same_shape(t, ex.BOOK_TICKER) == [] for t in tickers)
    assert all(b["pu"] == a["u"] and b["U"] == a["u"] + 1 for a, b in pairwise(depth))
    assert first is not None
    assert first["pu"] == snapshot["lastUpdateId"] or first["U"] <= snapshot["lastUpdateId"]
