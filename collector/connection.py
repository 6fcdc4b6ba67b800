"""One combined-stream WebSocket connection, kept alive forever.

Connect, read, hand every frame to ``on_frame`` (which never waits on the database), reconnect
with capped jittered backoff (reset as soon as a session delivers its first frame, so a link that
drops every few seconds reconnects at once each time instead of waiting out a growing backoff).
A watchdog rebuilds a connection that receives nothing for ``silent_after`` seconds (how the
2026 route split broke recorders: subscriptions acknowledged, then silence). Before Binance's
24 h cut the connection is replaced with an overlap: the successor holds back its frames while
the old one keeps delivering for ``HANDOFF_DRAIN`` s, then the old one closes and the successor
delivers what it held, so frames reach the handler in order across the handoff; the handler
drops the duplicates.

A ``serverShutdown`` event (spot, before maintenance; ``on_frame`` returns True for it) starts
the same overlapping replacement at once.

Streams can be changed live (``change``): SUBSCRIBE/UNSUBSCRIBE go to every open session, paced
under Binance's 10 incoming messages/s per connection, and later sessions connect with the new set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import aiohttp
import orjson
import tenacity
from aiohttp import ClientWebSocketResponse, WSMsgType

log = logging.getLogger(__name__)

# A session that delivered a frame ended "healthy": the next one starts after at most this
# (jittered, so many connections cut together do not reconnect in lockstep).
RECONNECT_JITTER = 0.25
# A burst already read is handed over in slices at least this often (s): receive() does not
# return to the event loop while frames are buffered, and the writers can COPY the first rows
# of a burst while the rest is parsed.
YIELD_EVERY = 0.002
# How long the old connection keeps delivering after its successor receives. Closing the old one
# at the successor's first frame would lose what the old one had received but not yet read
# (newer than what it delivered, older than the successor's first frame) whenever it lags.
HANDOFF_DRAIN = 1.0
# Binance closes a connection that sends more than 10 messages/s (pongs included): stay at 5/s.
CONTROL_INTERVAL = 0.2


class SessionEnded(Exception):
    """The connection dropped or went silent; ``healthy`` if it had delivered a frame."""

    def __init__(self, reason: str, healthy: bool) -> None:
        super().__init__(reason)
        self.healthy = healthy


class StreamConnection:
    def __init__(
        self,
        name: str,
        url: str,
        on_frame: Callable[[str | bytes], bool | None],
        *,
        on_event: Callable[[str, dict], None] | None = None,
        max_age: float = 23 * 3600,
        silent_after: float = 30.0,
        backoff_max: float = 30.0,
        streams: list[str] | None = None,
        url_for: Callable[[list[str]], str] | None = None,
        control_interval: float = CONTROL_INTERVAL,
    ) -> None:
        self.name = name
        self.url = url
        self.on_frame = on_frame
        self.on_event = on_event or (lambda kind, details: None)
        self.max_age = max_age
        self.silent_after = silent_after
        self.backoff_max = backoff_max
        self.connects = 0
        self.last_frame = 0.0  # monotonic
        self.streams = list(streams or [])  # what a new session subscribes to
        self.url_for = url_for  # the URL that subscribes a new session to ``streams``
        self.control_interval = control_interval  # seconds between SUBSCRIBE/UNSUBSCRIBE messages
        self.control_sent: list[float] = []  # monotonic times of SUBSCRIBE/UNSUBSCRIBE messages
        self._control: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()
        self._open: set[ClientWebSocketResponse] = set()
        self._request_id = 0

    def change(self, subscribe: list[str], unsubscribe: list[str]) -> None:
        """Add and remove streams live; the messages are sent by ``run`` at a paced rate."""
        gone = set(unsubscribe)
        kept = [n for n in self.streams if n not in gone]
        self.streams = kept + [n for n in subscribe if n not in kept]
        if self.url_for is not None:
            self.url = self.url_for(self.streams)
        if unsubscribe:
            self._control.put_nowait(("UNSUBSCRIBE", list(unsubscribe)))
        if subscribe:
            self._control.put_nowait(("SUBSCRIBE", list(subscribe)))

    async def _send_control(self) -> None:
        while True:
            method, params = await self._control.get()
            self._request_id += 1
            text = orjson.dumps({"method": method, "params": params, "id": self._request_id})
            for ws in list(self._open):
                # a session that closes meanwhile reconnects with the new set (``url``)
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    await ws.send_str(text.decode())
            self.control_sent.append(time.monotonic())
            await asyncio.sleep(self.control_interval)

    async def run(self) -> None:
        """Forever: one lineage of sessions, each replaced with an overlap before ``max_age``."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._send_control())
                wants_successor, close_me = asyncio.Event(), asyncio.Event()
                tg.create_task(self._live(wants_successor, close_me, None))
                while True:
                    await wants_successor.wait()
                    new_wants, new_close = asyncio.Event(), asyncio.Event()
                    tg.create_task(self._live(new_wants, new_close, close_me))
                    wants_successor, close_me = new_wants, new_close
        finally:
            self.on_event("closed", {})  # no longer wanted (universe change) or shutting down

    async def _live(
        self,
        wants_successor: asyncio.Event,
        close_me: asyncio.Event,
        predecessor: asyncio.Event | None,
    ) -> None:
        """Sessions until this one has been handed off to a successor."""
        while not close_me.is_set():
            retrying = tenacity.AsyncRetrying(
                wait=tenacity.wait_exponential_jitter(multiplier=0.2, max=self.backoff_max),
                retry=tenacity.retry_if_exception(
                    lambda e: (
                        isinstance(e, SessionEnded) and not e.healthy and not close_me.is_set()
                    )
                ),
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._session(wants_successor, close_me, predecessor)
            except SessionEnded:  # a session that delivered frames ended: the backoff resets
                if not close_me.is_set():
                    await asyncio.sleep(random.uniform(0, RECONNECT_JITTER))

    async def _session(
        self,
        wants_successor: asyncio.Event,
        close_me: asyncio.Event,
        predecessor: asyncio.Event | None,
    ) -> None:
        started = time.monotonic()
        url, asked = self.url, list(self.streams)
        try:
            # aiohttp's C frame reader: the websockets client's framing and per-message queue
            # hand-off cost ~30 % of the per-frame CPU. Binance's pings are answered (autoping).
            async with (
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=None, connect=10)
                ) as http,
                http.ws_connect(
                    url,
                    max_msg_size=2**24,
                    autoping=True,
                    heartbeat=None,
                    compress=0,
                    timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                ) as ws,
            ):
                self.connects += 1
                self.on_event("connect", {"url": url, "connects": self.connects})
                self._open.add(ws)
                if self.streams != asked:  # changed while this session was connecting
                    self.change(self.streams, [n for n in asked if n not in self.streams])
                try:
                    await self._read(ws, started, wants_successor, close_me, predecessor)
                finally:
                    self._open.discard(ws)
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            if close_me.is_set():
                return
            reason = f"{type(exc).__name__}: {exc}"
            self.on_event("disconnect", {"reason": reason, "url": self.url})
            log.warning("%s: connection lost (%s)", self.name, reason)
            raise SessionEnded(reason, self.last_frame >= started) from exc

    async def _read(
        self,
        ws: ClientWebSocketResponse,
        started: float,
        wants_successor: asyncio.Event,
        close_me: asyncio.Event,
        predecessor: asyncio.Event | None,
    ) -> None:
        handoff = None
        # a reconnect after the handoff is done (predecessor set) has nothing to hand over
        if predecessor is not None and not predecessor.is_set():
            handoff = _Handoff(predecessor)
        # One watchdog per session instead of a timeout around every recv(): that cost ~12 % of
        # the per-frame CPU. It closes the connection, which ends the receive() below.
        closing = asyncio.Event()  # set by the watchdog before it closes ``ws``
        watchdog = asyncio.create_task(self._watchdog(ws, close_me, started, closing))
        yielded = time.monotonic()
        try:
            while not close_me.is_set():
                if self.last_frame - yielded > YIELD_EVERY:
                    await asyncio.sleep(0)
                    yielded = time.monotonic()
                msg = await ws.receive()
                if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                    if closing.is_set():
                        break  # closed by the watchdog
                    raise ConnectionResetError(f"{msg.type.name} (code {ws.close_code})")
                frame = msg.data
                self.last_frame = now = time.monotonic()
                closing_soon = False  # the server announced it will close this connection
                if handoff is not None:
                    if handoff.hold(frame, now):
                        continue
                    for held in handoff.release():  # the old connection closes now
                        closing_soon = bool(self.on_frame(held)) or closing_soon
                    handoff = None
                else:
                    closing_soon = bool(self.on_frame(frame))
                if wants_successor.is_set():
                    continue
                if closing_soon:  # replaced with an overlap now, as before the 24 h cut
                    self.on_event("server_shutdown", {"age_seconds": round(now - started, 3)})
                    wants_successor.set()
                elif now - started >= self.max_age:
                    self.on_event("rollover", {"age_seconds": round(now - started, 3)})
                    wants_successor.set()
        finally:
            watchdog.cancel()
        if close_me.is_set():
            return
        self.on_event("stale", {"silent_for": self.silent_after, "url": self.url})
        log.error("%s: nothing for %.0fs, rebuilding the connection", self.name, self.silent_after)
        raise SessionEnded("silent", self.last_frame >= started)

    async def _watchdog(
        self,
        ws: ClientWebSocketResponse,
        close_me: asyncio.Event,
        started: float,
        closing: asyncio.Event,
    ) -> None:
        """Returns (after closing ``ws``) once the session is silent or handed off."""
        check = min(1.0, self.silent_after / 4)
        while (
            not close_me.is_set()
            and time.monotonic() - max(self.last_frame, started) < self.silent_after
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(close_me.wait(), check)
        closing.set()
        await ws.close()  # a peer that does not answer the close frame is cut after ws_close


class _Handoff:
    """A successor's frames, held while its predecessor keeps delivering for ``HANDOFF_DRAIN`` s
    after the first one: by then the predecessor has delivered everything older than them."""

    def __init__(self, predecessor: asyncio.Event) -> None:
        self.predecessor = predecessor  # set: the predecessor closes
        self.held: list[str | bytes] = []
        self.until: float | None = None

    def hold(self, frame: str | bytes, now: float) -> bool:
        """Keep ``frame``; True while the predecessor should go on delivering."""
        if self.until is None:
            self.until = now + HANDOFF_DRAIN
        self.held.append(frame)
        return now < self.until

    def release(self) -> list[str | bytes]:
        self.predecessor.set()
        held, self.held = self.held, []
        return held
