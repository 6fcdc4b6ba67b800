"""Hostile or broken answers from an exchange (or a proxy in between), over real sockets:
redirects are refused and the key never follows them, secrets and raw bodies never reach the log,
connection failures say what failed and where, junk symbol names are dropped."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from collector.venues.binance.rest import BinanceRest, RestError, WeightBudget
from collector.venues.binance.universe import top_symbols
from strategy.binance.client import BinanceClient, ConnectionFailed
from strategy.binance.errors import BinanceError, OrderRejected
from strategy.binance.userdata import UserDataStream
from strategy.webhook import Webhook
from symbols import REJECTED

KEY, SECRET = "K" * 64, "S" * 64
LISTEN_KEY = "LkSecretListenKey0123456789"


@dataclass
class Server:
    url: str
    hits: list[str] = field(default_factory=list)  # method path?query, with the API key header


async def _serve(routes: Callable[[Server], list[web.RouteDef]]) -> AsyncIterator[Server]:
    app = web.Application()
    runner = web.AppRunner(app)
    server = Server("")

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        server.hits.append(
            f"{request.method} {request.path_qs} {request.headers.get('X-MBX-APIKEY')}"
        )
        return await handler(request)

    app.middlewares.append(record)
    app.add_routes(routes(server))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def _empty(request: web.Request) -> web.Response:
    return web.json_response({})


@pytest.fixture
async def elsewhere() -> AsyncIterator[Server]:
    """Where a hostile redirect points: it must never be asked anything."""
    async for s in _serve(lambda s: [web.route("*", "/{tail:.*}", _empty)]):
        yield s


@pytest.fixture
async def exchange(elsewhere: Server) -> AsyncIterator[Server]:
    async def time_(request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{elsewhere.url}/steal?{request.query_string}")

    async def hostile_error(request: web.Request) -> web.Response:
        msg = "Order would trigger\n2026-12-06 INFO forged log line\x1b[31m" + "x" * 5000
        return web.json_response({"code": -2010, "msg": msg}, status=400)

    async def listen_key(request: web.Request) -> web.Response:
        return web.json_response({"listenKey": LISTEN_KEY})

    async def refuse_ws(request: web.Request) -> web.Response:
        return web.Response(status=403, text="no")

    async def exchange_info(request: web.Request) -> web.Response:
        names = ["BTCUSDT", "EVIL?USDT", "FORGED\nUSDT", "CUT#USDT", "ETHUSDT", "A/B", 7]
        return web.json_response({"symbols": [
            {"symbol": n, "contractType": "PERPETUAL", "quoteAsset": "USDT", "status": "TRADING"}
            for n in names
        ]})  # fmt: skip

    async def tickers(request: web.Request) -> web.Response:
        names = ["BTCUSDT", "EVIL?USDT", "FORGED\nUSDT", "CUT#USDT", "ETHUSDT", "A/B", 7]
        return web.json_response(
            [{"symbol": n, "quoteVolume": str(1000 - i)} for i, n in enumerate(names)]
        )

    def routes(server: Server) -> list[web.RouteDef]:
        return [
            web.get("/fapi/v1/time", time_),
            web.get("/fapi/v2/account", redirect),
            web.get("/fapi/v1/depth", redirect),
            web.post("/hook", redirect),
            web.post("/fapi/v1/order", hostile_error),
            web.post("/fapi/v1/listenKey", listen_key),
            web.get("/private/ws", refuse_ws),
            web.get("/fapi/v1/exchangeInfo", exchange_info),
            web.get("/fapi/v1/ticker/24hr", tickers),
        ]

    async for s in _serve(routes):
        yield s


async def test_a_redirect_is_refused_and_the_key_and_signed_query_stay_home(
    exchange: Server, elsewhere: Server
) -> None:
    async with BinanceClient(exchange.url, KEY, SECRET) as client:
        with pytest.raises(BinanceError) as refused:
            await client.request("GET", "/fapi/v2/account")
    assert refused.value.status == 302 and "refused" in refused.value.msg
    assert any("signature=" in hit and KEY in hit for hit in exchange.hits)
    assert elsewhere.hits == []


async def test_the_market_data_session_and_the_webhook_refuse_redirects_too(
    exchange: Server, elsewhere: Server
) -> None:
    async with aiohttp.ClientSession() as session:
        rest = BinanceRest(exchange.url, session, WeightBudget())
        with pytest.raises(RestError) as refused:
            await rest.depth("BTCUSDT")
        assert refused.value.status == 302
    hook = Webhook(f"{exchange.url}/hook", max_attempts=3, backoff_initial=0.01)
    hook.start()
    hook.send({"symbol": "BTCUSDT", "side": "LONG"})
    await hook.close(drain_timeout=5)
    assert (hook.sent, hook.failed, hook.retries) == (0, 1, 0)
    assert elsewhere.hits == []


async def test_exchange_error_text_is_cut_and_escaped(
    exchange: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with BinanceClient(exchange.url, KEY, SECRET) as client:
        with pytest.raises(OrderRejected) as rejected:
            await client.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT"}, order=True)
    msg = rejected.value.msg
    assert msg.startswith("Order would trigger\\n2026-12-06") and "\\x1b" in msg
    assert len(msg) <= 201 and "\n" not in str(rejected.value)
    logged = [r.getMessage() for r in caplog.records]
    assert any("-2010" in line for line in logged)
    assert not any("\n" in line or "\x1b" in line or SECRET in line for line in logged)


async def test_the_listen_key_never_reaches_the_log(
    exchange: Server, caplog: pytest.LogCaptureFixture
) -> None:
    async with BinanceClient(exchange.url, KEY, SECRET) as client:

        async def nothing() -> None:
            return None

        stream = UserDataStream(client, exchange.url.replace("http", "ws"), nothing, 3600)
        task = asyncio.create_task(stream.run())
        async with asyncio.timeout(10):
            while not any("user-data stream" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    failures = [r.getMessage() for r in caplog.records if "user-data stream" in r.getMessage()]
    assert failures and "403" in failures[0]
    assert not any(LISTEN_KEY in r.getMessage() for r in caplog.records)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://nosuchhost.invalid", "cannot reach nosuchhost.invalid:443: DNS lookup failed"),
        ("http://127.0.0.1:{port}", "cannot reach 127.0.0.1:{port}: connection refused"),
    ],
)
async def test_a_connection_failure_says_what_failed_and_where(url: str, says: str) -> None:
    port = _closed_port()
    client = BinanceClient(url.format(port=port), KEY, SECRET, timeout=5)
    try:
        with pytest.raises(ConnectionFailed) as failed:
            await client.start()
    finally:
        await client.close()
    text = str(failed.value)
    assert text.startswith(says.format(port=port)) and "GET /fapi/v1/time" in text, text
    assert "Binance error" not in text


async def test_hostile_symbol_names_from_the_exchange_are_dropped_and_counted(
    exchange: Server, caplog: pytest.LogCaptureFixture
) -> None:
    before = REJECTED.labels("exchangeInfo")._value.get()
    async with aiohttp.ClientSession() as session:
        top = await top_symbols(BinanceRest(exchange.url, session, WeightBudget()), 10)
    assert top == ["BTCUSDT", "ETHUSDT"]
    assert REJECTED.labels("exchangeInfo")._value.get() - before == 5
    warnings = [r.getMessage() for r in caplog.records if "dropped a symbol" in r.getMessage()]
    assert len(warnings) == 5 and any("FORGED\\nUSDT" in w for w in warnings)
    assert not any("\n" in w for w in warnings)
