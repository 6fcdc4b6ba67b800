"""Bybit's parser and book sync rule over a real WebSocket to the simulator on 127.0.0.1: every
trade once, every book equal to the simulator's, a gap in ``u`` healed by subscribing anew, a
``u == 1`` restart taken as a reset, a dropped connection recovered by a fresh snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from collector.venues.bybit import parse
from collector.venues.bybit.book import BybitBook, Outcome
from collector.venues.bybit.rows import LiquidationRow, TradeRow
from sim.script import Episode, Script
from sim.server import Simulator
from tests.sim_fixtures import make_simulator

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TOPICS = [
    f"{kind}.{symbol}"
    for symbol in SYMBOLS
    for kind in ("publicTrade", "orderbook.50", "orderbook.200", "allLiquidation", "tickers")
]


class Client:
    """What a recorder does with Bybit's frames, minus the database: parse, keep books and
    ticker state, subscribe anew to a topic whose chain broke, reconnect when cut."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http
        self.books = {t: BybitBook() for t in TOPICS if t.startswith("orderbook")}
        self.tickers = parse.Tickers()
        self.trades: list[TradeRow] = []
        self.liquidations: list[LiquidationRow] = []
        self.outcomes: Counter[tuple[str, Outcome]] = Counter()
        self.replies: list[parse.OpReply] = []
        self.connections = 0
        self.frames = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.changed = asyncio.Condition()

    async def run(self) -> None:
        while True:
            async with self.http.ws_connect(self.url) as ws:
                self.ws, self.connections = ws, self.connections + 1
                await self.send({"op": "subscribe", "req_id": "all", "args": TOPICS})
                async for message in ws:
                    await self.handle(message.data)
            for book in self.books.values():
                book.invalidate()

    async def send(self, body: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(orjson.dumps(body).decode())

    async def handle(self, raw: str) -> None:
        self.frames += 1
        received = dt.datetime.now(dt.UTC)
        d = parse.decode(raw)
        reply = parse.op_reply(d)
        if reply is not None:
            self.replies.append(reply)
            async with self.changed:
                self.changed.notify_all()
            return
        topic = d["topic"]
        kind, _, _ = parse.topic_parts(topic)
        if kind == "publicTrade":
            self.trades += parse.trades(d, received)
        elif kind == "allLiquidation":
            self.liquidations += parse.liquidations(d, received)
        elif kind == "tickers":
            self.tickers.update(d, received)
        else:
            outcome = self.books[topic].on_message(parse.book(d, received))
            self.outcomes[topic, outcome] += 1
            if outcome is Outcome.GAP:  # Bybit has no bridge: a fresh snapshot comes on subscribe
                await self.send({"op": "unsubscribe", "args": [topic]})
                await self.send({"op": "subscribe", "req_id": "again", "args": [topic]})

    async def until(self, ready: Callable[[], bool]) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ready), 5)

    async def settle(self) -> None:
        """Wait until the frames stop coming."""
        seen = -1
        while seen != self.frames:
            seen = self.frames
            await asyncio.sleep(0.2)


@pytest.fixture
async def bybit_sim() -> AsyncIterator[Simulator]:
    script = Script([Episode("panic_selloff", 0, 60, "BTCUSDT")])
    simulator = make_simulator(bybit_symbols=list(SYMBOLS), script=script)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def client(bybit_sim, http) -> AsyncIterator[Client]:
    c = Client(bybit_sim.bybit_ws_url, http)
    task = asyncio.create_task(c.run())
    await c.until(lambda: any(r.req_id == "all" for r in c.replies))
    try:
        yield c
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def assert_books_equal_the_simulator(client: Client, sim: Simulator) -> None:
    assert sim.bybit is not None
    for topic, book in client.books.items():
        _, depth, symbol = parse.topic_parts(topic)
        assert depth is not None
        published = sim.bybit.book(symbol, depth)
        assert book.synced and book.update_id == published["u"], topic
        bid_px, bid_qty, ask_px, ask_qty = book.top(depth)
        assert list(zip(bid_px, bid_qty, strict=True)) == [
            (float(p), float(q)) for p, q in published["b"]
        ]
        assert list(zip(ask_px, ask_qty, strict=True)) == [
            (float(p), float(q)) for p, q in published["a"]
        ]


async def test_every_trade_once_books_equal_gap_resubscribed_and_restart_reset(bybit_sim, client):
    await bybit_sim.advance(2000)
    bybit_sim.bybit.skip_deltas("BTCUSDT", 2, depth=200)
    await bybit_sim.advance(2000)
    bybit_sim.bybit.restart("ETHUSDT")
    await bybit_sim.advance(2000)
    await client.settle()

    truth = bybit_sim.bybit_truth
    for symbol in SYMBOLS:
        mine = [str(t.trade_id) for t in client.trades if t.symbol == symbol]
        assert mine == [t["i"] for t in truth.trades[symbol]], symbol  # every trade, once
        state = client.tickers.state[symbol]
        assert state == bybit_sim.bybit.feeds[symbol].ticker
    assert client.liquidations
    assert [x.side for x in client.liquidations if x.symbol == "BTCUSDT"] == [
        "SELL" if x["S"] == "Buy" else "BUY" for x in truth.liquidations["BTCUSDT"]
    ]
    assert client.outcomes["orderbook.200.BTCUSDT", Outcome.GAP] == 1
    assert client.outcomes["orderbook.50.BTCUSDT", Outcome.GAP] == 0
    assert client.outcomes["orderbook.200.BTCUSDT", Outcome.SNAPSHOT] == 2  # first, then again
    for depth in (50, 200):
        assert client.outcomes[f"orderbook.{depth}.ETHUSDT", Outcome.RESET] == 1
        assert client.outcomes[f"orderbook.{depth}.ETHUSDT", Outcome.GAP] == 0
    assert all(r.success for r in client.replies)
    assert_books_equal_the_simulator(client, bybit_sim)


async def test_a_dropped_connection_is_recovered_by_fresh_snapshots(bybit_sim, client):
    await bybit_sim.advance(1000)
    assert bybit_sim.faults.drop_connections(route="bybit") == 1
    await client.until(lambda: sum(r.req_id == "all" for r in client.replies) == 2)
    assert client.connections == 2
    await bybit_sim.advance(1000)
    await client.settle()
    for topic in client.books:
        assert client.outcomes[topic, Outcome.SNAPSHOT] == 2
    assert_books_equal_the_simulator(client, bybit_sim)


async def test_ping_is_answered_by_a_pong(client):
    await client.send({"op": "ping", "req_id": "hb"})
    await client.until(lambda: any(r.pong and r.req_id == "hb" for r in client.replies))


async def get_result(http: aiohttp.ClientSession, sim: Simulator, path: str) -> dict[str, Any]:
    async with http.get(sim.http_url + path) as response:
        return parse.rest_result(await response.json())


async def test_rest_answers_parse_into_rows_that_match_the_truth(bybit_sim, http):
    await bybit_sim.advance(3000)
    received = dt.datetime.now(dt.UTC)
    info = await get_result(http, bybit_sim, "/v5/market/instruments-info?category=linear")
    instruments = [parse.instrument(i) for i in info["list"]]
    assert [(i.symbol, i.tick_size, i.step_size) for i in instruments] == [
        ("BTCUSDT", 0.1, 0.001),
        ("ETHUSDT", 0.01, 0.001),
    ]
    path = "/v5/market/recent-trade?category=linear&symbol=BTCUSDT&limit=1000"
    trades = parse.rest_trades(await get_result(http, bybit_sim, path), received)
    truth = bybit_sim.bybit_truth
    assert [str(t.trade_id) for t in trades] == [t["i"] for t in truth.trades["BTCUSDT"][-1000:]]
    path = "/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=200"
    book = parse.rest_book(await get_result(http, bybit_sim, path), received)
    full = truth.book_at("ETHUSDT", book.seq)
    assert book.bid_prices == [float(p) for p, _ in full["bids"][:200]]
    assert book.ask_qtys == [float(q) for _, q in full["asks"][:200]]
    async with http.get(bybit_sim.http_url + "/v5/market/tickers?category=linear") as response:
        body = await response.json()
    tickers = parse.rest_tickers(body["time"], parse.rest_result(body), received)
    assert {t.symbol for t in tickers} == set(SYMBOLS)
    assert all(t.turnover_24h and t.mark_price and t.funding_rate is not None for t in tickers)
    with pytest.raises(parse.BybitApiError):
        await get_result(http, bybit_sim, "/v5/market/orderbook?category=linear&symbol=NOPE")
