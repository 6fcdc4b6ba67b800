"""A client following Binance's local-book algorithm stays equal to the simulator's own book.

Binance's steps (reference §B.1): buffer the stream, fetch a REST snapshot (lastUpdateId L), drop
events with u < L, the first event must have U ≤ L ≤ u (or, as live futures streams also do,
pu == L), then every event's pu must equal the previous u; on a break, start again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from sim.server import Simulator
from tests.sim_fixtures import drain_text


class LocalBook:
    """The client side: a book kept from a snapshot plus diffs, with Binance's checks."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last_u: int | None = None  # None: needs a snapshot
        self.snapshot_id = 0
        self.buffer: list[dict[str, Any]] = []
        self.breaks = 0
        self.checked: list[int] = []

    def load(self, snapshot: dict[str, Any]) -> None:
        self.bids = dict(map(tuple, snapshot["bids"]))
        self.asks = dict(map(tuple, snapshot["asks"]))
        self.snapshot_id = snapshot["lastUpdateId"]
        self.last_u = None
        pending, self.buffer = self.buffer, []
        for event in pending:
            self.on_event(event)

    def on_event(self, event: dict[str, Any]) -> bool:
        """Apply one diff; False if the chain broke (the caller must re-snapshot)."""
        if not self.snapshot_id:
            self.buffer.append(event)
            return True
        if self.last_u is None:
            if event["u"] < self.snapshot_id:
                return True  # older than the snapshot
            if not (
                event["U"] <= self.snapshot_id <= event["u"] or event["pu"] == self.snapshot_id
            ):
                raise AssertionError(
                    f"first event {event['U']}..{event['u']} misses {self.snapshot_id}"
                )
        elif event["pu"] != self.last_u:
            self.breaks += 1
            self.snapshot_id = 0
            self.buffer = [event]
            return False
        for levels, updates in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in updates:
                if float(qty) == 0:
                    levels.pop(price, None)
                else:
                    levels[price] = qty
        self.last_u = event["u"]
        return True

    def same_as(self, truth: dict[str, Any]) -> bool:
        return self.bids == dict(map(tuple, truth["bids"])) and self.asks == dict(
            map(tuple, truth["asks"])
        )


async def snapshot(http: aiohttp.ClientSession, sim: Simulator, symbol: str) -> dict[str, Any]:
    async with http.get(f"{sim.http_url}/fapi/v1/depth?symbol={symbol}&limit=1000") as response:
        assert response.status == 200
        assert response.headers["X-MBX-USED-WEIGHT-1M"]
        return await response.json()


async def test_client_book_equals_simulator_book_at_every_update(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    book = LocalBook()
    url = f"{sim.ws_url}/public/stream?streams=btcusdt@depth@100ms"
    async with http.ws_connect(url) as ws:
        await sim.advance(1_250)  # some events buffered before the snapshot
        for frame in await drain_text(ws):
            book.on_event(orjson.loads(frame)["data"])
        assert book.buffer
        book.load(await snapshot(http, sim, "BTCUSDT"))
        await sim.advance(3_000)
        for frame in await drain_text(ws):
            event = orjson.loads(frame)["data"]
            assert book.on_event(event)
            if book.last_u == event["u"]:  # applied, not dropped as pre-snapshot
                assert book.same_as(sim.book("BTCUSDT", event["u"])), event["u"]
                book.checked.append(event["u"])
    assert len(book.checked) >= 25
    async with http.get(
        f"{sim.http_url}/sim/truth/book", params={"symbol": "BTCUSDT", "u": str(book.last_u)}
    ) as response:
        assert book.same_as(await response.json())


async def test_every_speed_keeps_the_book(sim: Simulator, http: aiohttp.ClientSession) -> None:
    streams = {"ethusdt@depth": LocalBook(), "ethusdt@depth@500ms": LocalBook()}
    url = f"{sim.ws_url}/public/stream?streams=" + "/".join(streams)
    async with http.ws_connect(url) as ws:
        await sim.advance(600)
        snap = await snapshot(http, sim, "ETHUSDT")
        for book in streams.values():
            book.load(snap)
        await sim.advance(3_000)
        for frame in await drain_text(ws):
            message = orjson.loads(frame)
            book = streams[message["stream"]]
            assert book.on_event(message["data"])
            if book.last_u == message["data"]["u"]:  # applied, not dropped as pre-snapshot
                assert book.same_as(sim.book("ETHUSDT", book.last_u))
                book.checked.append(book.last_u)
    assert all(len(book.checked) >= 5 for book in streams.values())


async def test_live_market_with_a_pu_break_resyncs_to_the_same_book(
    sim_live: Simulator, http: aiohttp.ClientSession
) -> None:
    sim = sim_live
    book = LocalBook()
    url = f"{sim.ws_url}/public/stream?streams=btcusdt@depth@100ms"
    async with http.ws_connect(url) as ws:

        async def read() -> None:
            async for message in ws:
                event = orjson.loads(message.data)["data"]
                if not book.on_event(event):
                    book.load(await snapshot(http, sim, "BTCUSDT"))
                elif book.last_u == event["u"]:
                    assert book.same_as(sim.book("BTCUSDT", event["u"]))
                    book.checked.append(event["u"])

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.2)
        book.load(await snapshot(http, sim, "BTCUSDT"))
        await asyncio.sleep(0.5)
        sim.faults.skip_depth_ids("BTCUSDT", 2)
        await asyncio.sleep(1.0)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert book.breaks == 1
    assert len(book.checked) > 20
