"""Live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / properties, errors, and connection rules."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from sim.server import Simulator
from tests.sim_fixtures import drain_text, make_simulator, receive_json, request


async def test_subscribe_list_unsubscribe(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.ws_url}/market/ws") as ws:
        assert await request(ws, "SUBSCRIBE", ["btcusdt@aggTrade", "ethusdt@aggTrade"], 1) == {
            "result": None,
            "id": 1,
        }
        assert await request(ws, "LIST_SUBSCRIPTIONS", None, 3) == {
            "result": ["btcusdt@aggTrade", "ethusdt@aggTrade"],
            "id": 3,
        }
        await sim.advance(2_000)
        assert {orjson.loads(f)["s"] for f in await drain_text(ws)} == {"BTCUSDT", "ETHUSDT"}
        assert await request(ws, "UNSUBSCRIBE", ["btcusdt@aggTrade"], 312) == {
            "result": None,
            "id": 312,
        }
        await sim.advance(2_000)
        assert {orjson.loads(f)["s"] for f in await drain_text(ws)} == {"ETHUSDT"}
        assert (await request(ws, "LIST_SUBSCRIPTIONS", None, 4))["result"] == ["ethusdt@aggTrade"]


async def test_combined_property_switches_the_wrapper(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/market/ws/btcusdt@aggTrade") as ws:
        assert await request(ws, "GET_PROPERTY", ["combined"], 2) == {"result": False, "id": 2}
        await sim.advance(1_000)
        assert "stream" not in orjson.loads((await drain_text(ws))[0])
        assert await request(ws, "SET_PROPERTY", ["combined", True], 5) == {"result": None, "id": 5}
        assert await request(ws, "GET_PROPERTY", ["combined"], 6) == {"result": True, "id": 6}
        await sim.advance(1_000)
        frame = orjson.loads((await drain_text(ws))[0])
        assert frame["stream"] == "btcusdt@aggTrade" and frame["data"]["e"] == "aggTrade"


@pytest.mark.parametrize(
    ("sent", "code", "msg_start"),
    [
        ("{not json", 3, "Invalid JSON: expected value at line 1 column"),
        (
            '{"method":"SUBSCRIBE","params":[],"id":-1}',
            2,
            "Invalid request: request ID must be an unsigned integer",
        ),
        (
            '{"method":"SUBSCRIBE","params":[],"id":"a"}',
            2,
            "Invalid request: request ID must be an unsigned integer",
        ),
        (
            '{"method":"SUBSCRIBX","params":[],"id":1}',
            2,
            "Invalid request: unknown variant `SUBSCRIBX`, expected one of `SUBSCRIBE`, "
            "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column",
        ),
        ('{"params":["btcusdt@aggTrade"],"id":1}', 2, "Invalid request: missing field `method`"),
        ('{"method":"SET_PROPERTY","params":["colour",true],"id":1}', 0, "Unknown property"),
        (
            '{"method":"SET_PROPERTY","params":["combined","yes"],"id":1}',
            1,
            "Invalid value type: expected Boolean",
        ),
        (
            '{"method":"GET_PROPERTY","params":[7],"id":1}',
            2,
            "Invalid request: property name must be a string",
        ),
        (
            '{"method":"SET_PROPERTY","params":["combined",true,1],"id":1}',
            2,
            "Invalid request: too many parameters",
        ),
    ],
)
async def test_error_payloads(
    sim: Simulator, http: aiohttp.ClientSession, sent: str, code: int, msg_start: str
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws") as ws:
        await ws.send_str(sent)
        reply = await receive_json(ws)
    assert set(reply) == {"error", "id"}
    assert set(reply["error"]) == {"code", "msg"}
    assert reply["error"]["code"] == code
    assert reply["error"]["msg"].startswith(msg_start), reply


async def test_more_than_ten_incoming_messages_a_second_disconnects(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws") as ws:
        for i in range(12):
            await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        replies = 0
        while True:
            message = await ws.receive(timeout=5)
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            replies += 1
        assert replies == 10
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1008


async def test_ten_messages_a_second_are_fine(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws") as ws:
        for i in range(10):
            assert (await request(ws, "LIST_SUBSCRIPTIONS", None, i))["id"] == i
        await asyncio.sleep(1.05)
        for i in range(5):
            assert (await request(ws, "LIST_SUBSCRIPTIONS", None, i))["id"] == i


async def test_server_pings_and_cuts_at_the_maximum_connection_age(
    http: aiohttp.ClientSession,
) -> None:
    async with make_simulator(ping_interval=0.2, max_connection_age=1.0) as sim:
        started = time.monotonic()
        async with http.ws_connect(f"{sim.ws_url}/public/ws", autoping=False) as ws:
            pings = 0
            while True:
                message = await ws.receive(timeout=5)
                if message.type == aiohttp.WSMsgType.PING:
                    pings += 1
                    await ws.pong(message.data)
                else:
                    break
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
        assert 0.9 <= time.monotonic() - started < 3
        assert pings >= 3


async def test_a_client_that_never_pongs_is_disconnected(http: aiohttp.ClientSession) -> None:
    async with make_simulator(ping_interval=0.1, pong_timeout=0.3) as sim:
        async with http.ws_connect(f"{sim.ws_url}/public/ws", autoping=False) as ws:
            while (message := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.PING:
                pass  # never answered
        assert message.type == aiohttp.WSMsgType.CLOSE


async def test_client_pings_are_answered(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{sim.ws_url}/public/ws", autoping=False) as ws:
        await ws.ping(b"hi")
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.PONG and message.data == b"hi"
