"""WebSocket streams over real sockets: payload shapes, 2026 routing, raw vs combined paths."""

from __future__ import annotations

import aiohttp
import orjson

from sim.script import Episode, Script
from sim.server import Simulator
from tests.sim_fixtures import drain_text, make_simulator, request
from tests.unit.sim import binance_examples as ex

PUBLIC_EXAMPLES = {
    "btcusdt@depth": ex.DEPTH_UPDATE,
    "btcusdt@depth@100ms": ex.DEPTH_UPDATE,
    "btcusdt@depth@500ms": ex.DEPTH_UPDATE,
    "btcusdt@depth5": ex.DEPTH_UPDATE,
    "btcusdt@depth10@500ms": ex.DEPTH_UPDATE,
    "btcusdt@depth20@100ms": ex.DEPTH_UPDATE,
    "btcusdt@bookTicker": ex.BOOK_TICKER,
}
MARKET_EXAMPLES = {
    "btcusdt@aggTrade": ex.AGG_TRADE,
    "btcusdt@markPrice": ex.MARK_PRICE,
    "btcusdt@markPrice@1s": ex.MARK_PRICE,
    "!markPrice@arr": [ex.MARK_PRICE],
    "!markPrice@arr@1s": [ex.MARK_PRICE],
    "btcusdt@forceOrder": ex.FORCE_ORDER,
    "!forceOrder@arr": ex.FORCE_ORDER,
    "btcusdt@kline_1m": ex.KLINE,
}


async def test_every_stream_payload_has_binances_keys(http: aiohttp.ClientSession) -> None:
    script = Script([Episode("panic_selloff", 0, 300, "BTCUSDT")])
    async with make_simulator(script=script) as sim:
        for route, examples in (("public", PUBLIC_EXAMPLES), ("market", MARKET_EXAMPLES)):
            url = f"{sim.ws_url}/{route}/stream?streams=" + "/".join(examples)
            async with http.ws_connect(url) as ws:
                await sim.advance(61_000)
                frames = [orjson.loads(f) for f in await drain_text(ws)]
            seen = set()
            for frame in frames:
                assert set(frame) == {"stream", "data"}
                name = frame["stream"]
                assert ex.same_shape(frame["data"], examples[name]) == [], name
                seen.add(name)
            assert seen == set(examples), set(examples) - seen


async def test_wrong_route_is_acknowledged_then_silent(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with (
        http.ws_connect(f"{sim.ws_url}/public/ws") as public,
        http.ws_connect(f"{sim.ws_url}/market/ws") as market,
    ):
        # market streams on /public and public streams on /market: both ACKed ...
        assert await request(public, "SUBSCRIBE", ["btcusdt@aggTrade", "btcusdt@markPrice@1s"]) == {
            "result": None,
            "id": 1,
        }
        assert await request(
            market, "SUBSCRIBE", ["btcusdt@depth@100ms", "btcusdt@bookTicker"]
        ) == {
            "result": None,
            "id": 1,
        }
        assert (await request(public, "LIST_SUBSCRIPTIONS", request_id=2))["result"] == [
            "btcusdt@aggTrade",
            "btcusdt@markPrice@1s",
        ]
        await sim.advance(5_000)
        # ... and then nothing arrives on either.
        assert await drain_text(public) == []
        assert await drain_text(market) == []


async def test_legacy_root_delivers_only_public_streams(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.ws_url}/stream?streams=btcusdt@depth/btcusdt@aggTrade/btcusdt@markPrice"
    async with http.ws_connect(url) as ws:
        await sim.advance(4_000)
        names = {orjson.loads(f)["stream"] for f in await drain_text(ws)}
    assert names == {"btcusdt@depth"}


async def test_raw_path_with_several_streams_sends_bare_payloads(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/market/ws/btcusdt@aggTrade/ethusdt@aggTrade") as ws:
        await sim.advance(3_000)
        payloads = [orjson.loads(f) for f in await drain_text(ws)]
    assert payloads and all(p["e"] == "aggTrade" for p in payloads)
    assert {p["s"] for p in payloads} == {"BTCUSDT", "ETHUSDT"}


async def test_unknown_symbol_or_stream_is_acknowledged_and_silent(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/market/ws") as ws:
        reply = await request(ws, "SUBSCRIBE", ["dogeusdt@aggTrade", "btcusdt@nonsense"])
        assert reply == {"result": None, "id": 1}
        await sim.advance(2_000)
        assert await drain_text(ws) == []


async def test_streams_carry_what_the_truth_recorded(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/market/ws/ethusdt@aggTrade") as ws:
        await sim.advance(3_000)
        trades = [orjson.loads(f) for f in await drain_text(ws)]
    assert sim.truth is not None
    expected = sim.truth.agg_trades["ETHUSDT"]
    assert [{k: t[k] for k in ("a", "p", "q", "f", "l", "T", "m")} for t in trades] == expected
