"""The user-data stream: listen key, keepalive, reconnects, events into a queue.

A listen key lives 60 minutes after its last keepalive (reference §D.6); we PUT every
``keepalive_interval`` (30–50 min). A -1125 on keepalive or a ``listenKeyExpired`` event means the
key is gone: a new one is created and the stream reconnected. After every (re)connect
``on_connect`` runs (the executor reconciles), *after* the socket is open, so no event can fall
between the reconciliation and the stream. Frames go to a bounded queue; the reader never waits
for the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from asyncpg import PostgresError

from logsafe import without_query
from strategy.binance.client import BinanceClient
from strategy.binance.errors import BinanceError, ListenKeyMissing

log = logging.getLogger(__name__)

EVENTS = "ORDER_TRADE_UPDATE/ALGO_UPDATE/ACCOUNT_UPDATE"
MAX_BACKOFF = 30.0


class UserDataStream:
    def __init__(
        self,
        client: BinanceClient,
        ws_url: str,
        on_connect: Callable[[], Awaitable[None]],
        keepalive_interval: float,
        queue_size: int = 10_000,
    ) -> None:
        self.client = client
        self.ws_url = ws_url.rstrip("/")
        self.on_connect = on_connect
        self.keepalive_interval = keepalive_interval
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_size)
        self.connected = asyncio.Event()
        self.connects = 0
        self.key_renewals = 0

    async def run(self) -> None:
        failures = 0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._session(session)
                    failures = 0
                except (
                    aiohttp.ClientError,
                    TimeoutError,
                    OSError,
                    BinanceError,
                    PostgresError,
                ) as exc:
                    # a failed reconciliation (exchange or database) is retried on the next connect
                    failures += 1
                    # a failed handshake's text quotes the URL, listen key included
                    log.warning(
                        "user-data stream: %s: %s", type(exc).__name__, without_query(str(exc))
                    )
                self.connected.clear()
                delay = min(MAX_BACKOFF, 0.5 * 2 ** min(failures, 6)) * random.uniform(0.5, 1.0)
                await asyncio.sleep(delay if failures else 0.05)

    async def _session(self, session: aiohttp.ClientSession) -> None:
        body = await self.client.request("POST", "/fapi/v1/listenKey", security="KEY")
        key = body["listenKey"]
        url = f"{self.ws_url}/private/ws?listenKey={key}&events={EVENTS}"
        async with session.ws_connect(url, heartbeat=None) as ws:
            self.connects += 1
            log.info("user-data stream connected (#%d)", self.connects)
            await self.on_connect()
            self.connected.set()
            keeper = asyncio.create_task(self._keepalive(ws), name="listen-key-keepalive")
            try:
                await self._read(ws)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            try:
                event = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                log.warning("user-data stream: malformed frame %r", message.data[:200])
                continue
            if isinstance(event, dict) and "stream" in event and "data" in event:
                event = event["data"]
            if event.get("e") == "listenKeyExpired":
                self.key_renewals += 1
                log.warning("user-data stream: listen key expired; creating a new one")
                return
            if self.events.full():
                log.error("user-data event queue full; dropping %s", event.get("e"))
                continue
            self.events.put_nowait(event)

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await self.client.request("PUT", "/fapi/v1/listenKey", security="KEY")
            except ListenKeyMissing:
                self.key_renewals += 1
                log.warning(
                    "user-data stream: listen key gone (-1125); reconnecting with a new one"
                )
                await ws.close()
                return
            except BinanceError as exc:
                log.warning("listen key keepalive failed: %s", exc)
