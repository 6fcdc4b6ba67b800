"""One Bybit v5 public WebSocket connection, kept alive forever.

Unlike Binance's (``collector.connection``), topics are not in the URL: each session connects
to the one linear route, then subscribes with ``{"op": "subscribe"}`` messages (a few topics each,
paced), and must send ``{"op": "ping"}`` every 20 s or Bybit closes it. The rest is the same
discipline: every frame goes to ``on_frame`` (which never waits on the database), a session that
receives nothing for ``silent_after`` seconds is rebuilt (the watchdog), reconnects back off with
jitter (reset once a session delivered a frame), and what happens is told to ``on_event``
(connect, disconnect, stale, closed) for recorder_events and the metrics. There is no 24 h cut
on Bybit (no overlapping replacement): a session lives until it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import aiohttp
from aiohttp import ClientWebSocketResponse, WSMsgType

from collector.venues.bybit import streams

log = logging.getLogger(__name__)

ARGS_PER_MESSAGE = 10  # topics per subscribe message (spot's documented limit; linear's is wider)
SUBSCRIBE_INTERVAL = 0.05  # seconds between two subscribe messages of one session


class BybitConnection:
    def __init__(
        self,
        name: str,
        url: str,
        topics: list[str],
        on_frame: Callable[[str | bytes], None],
        on_event: Callable[[str, dict], None],
        *,
        silent_after: float = 30.0,
        backoff_max: float = 30.0,
        ping_interval: float = streams.PING_INTERVAL,
    ) -> None:
        self.name = name
        self.url = url
        self.topics = list(topics)
        self.on_frame = on_frame
        self.on_event = on_event
        self.silent_after = silent_after
        self.backoff_max = backoff_max
        self.ping_interval = ping_interval
        self.connects = 0
        self.last_frame = 0.0  # monotonic
        self.ws: ClientWebSocketResponse | None = None
        self._req = 0
        self._changes: set[asyncio.Task] = set()

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def run(self) -> None:
        """Sessions forever; backoff grows while sessions fail before delivering anything."""
        delay = 0.2
        try:
            while True:
                started = time.monotonic()
                reason = await self._session()
                healthy = self.last_frame >= started
                self.on_event("disconnect", {"reason": reason, "url": self.url})
                log.warning("%s: connection lost (%s)", self.name, reason)
                delay = 0.2 if healthy else min(delay * 2, self.backoff_max)
                await asyncio.sleep(random.uniform(0.5, 1.0) * (0.25 if healthy else delay))
        finally:
            self.on_event("closed", {})

    def change(self, add: list[str], remove: list[str]) -> None:
        """Topics added and removed live: the open session is told (paced), later sessions
        subscribe to the new set."""
        gone = set(remove)
        kept = [t for t in self.topics if t not in gone]
        self.topics = kept + [t for t in add if t not in kept]
        task = asyncio.get_running_loop().create_task(self._send_change(add, remove))
        self._changes.add(task)
        task.add_done_callback(self._changes.discard)

    async def _send_change(self, add: list[str], remove: list[str]) -> None:
        if remove:
            await self._send("unsubscribe", remove)
        for i in range(0, len(add), ARGS_PER_MESSAGE):
            await self._send("subscribe", add[i : i + ARGS_PER_MESSAGE])
            await asyncio.sleep(SUBSCRIBE_INTERVAL)

    async def resubscribe(self, topic: str) -> None:
        """Ask for ``topic`` again on the open session: Bybit answers with a fresh snapshot."""
        await self._send("unsubscribe", [topic])
        await self._send("subscribe", [topic])

    async def _session(self) -> str:
        """One session; returns why it ended."""
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=None, connect=10)
                ) as http,
                http.ws_connect(
                    self.url, max_msg_size=2**24, autoping=True, heartbeat=None, compress=0
                ) as ws,
            ):
                self.ws = ws
                self.connects += 1
                self.on_event("connect", {"url": self.url, "connects": self.connects})
                helpers = [
                    asyncio.create_task(self._ping()),
                    asyncio.create_task(self._subscribe_all()),
                ]
                try:
                    return await self._read(ws)
                finally:
                    for task in helpers:
                        task.cancel()
                    self.ws = None
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            return f"{type(exc).__name__}: {exc}"

    async def _read(self, ws: ClientWebSocketResponse) -> str:
        while True:
            try:
                msg = await ws.receive(timeout=self.silent_after)
            except TimeoutError:
                self.on_event("stale", {"silent_for": self.silent_after, "url": self.url})
                log.error("%s: nothing for %.0fs, rebuilding", self.name, self.silent_after)
                return "silent"
            if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                return f"{msg.type.name} (code {ws.close_code})"
            self.last_frame = time.monotonic()
            self.on_frame(msg.data)

    async def _subscribe_all(self) -> None:
        for i in range(0, len(self.topics), ARGS_PER_MESSAGE):
            await self._send("subscribe", self.topics[i : i + ARGS_PER_MESSAGE])
            await asyncio.sleep(SUBSCRIBE_INTERVAL)

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            await self._send("ping", None)

    async def _send(self, op: str, args: list[str] | None) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return  # the next session subscribes to everything anyway
        self._req += 1
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await ws.send_str(streams.op(op, args, req_id=f"{self.name}-{self._req}"))
