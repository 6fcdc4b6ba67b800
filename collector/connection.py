"""One combined-stream WebSocket connection, kept alive forever.

Connect, read, hand every frame to ``on_frame`` (which never waits on the database), reconnect
with capped jittered backoff (reset after a healthy session). A watchdog rebuilds a connection
that receives nothing for ``silent_after`` seconds (how the 2026 route split broke recorders:
subscriptions acknowledged, then silence). Before Binance's 24 h cut the connection is replaced
with an overlap: the successor holds back its frames while the old one keeps delivering for
``HANDOFF_DRAIN`` s, then the old one closes and the successor delivers what it held, so frames
reach the handler in order across the handoff; the handler drops the duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import tenacity
import websockets
from websockets.asyncio.client import ClientConnection, connect

log = logging.getLogger(__name__)

HEALTHY_AFTER = 30.0  # a session that lasted this long resets the backoff
# How long the old connection keeps delivering after its successor receives. Closing the old one
# at the successor's first frame would lose what the old one had received but not yet read
# (newer than what it delivered, older than the successor's first frame) whenever it lags.
HANDOFF_DRAIN = 1.0


class SessionEnded(Exception):
    """The connection dropped or went silent; ``healthy`` if it had run long enough."""

    def __init__(self, reason: str, healthy: bool) -> None:
        super().__init__(reason)
        self.healthy = healthy


class StreamConnection:
    def __init__(
        self,
        name: str,
        url: str,
        on_frame: Callable[[bytes], None],
        *,
        on_event: Callable[[str, dict], None] | None = None,
        max_age: float = 23 * 3600,
        silent_after: float = 30.0,
        backoff_max: float = 30.0,
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

    async def run(self) -> None:
        """Forever: one lineage of sessions, each replaced with an overlap before ``max_age``."""
        async with asyncio.TaskGroup() as tg:
            wants_successor, close_me = asyncio.Event(), asyncio.Event()
            tg.create_task(self._live(wants_successor, close_me, None))
            while True:
                await wants_successor.wait()
                new_wants, new_close = asyncio.Event(), asyncio.Event()
                tg.create_task(self._live(new_wants, new_close, close_me))
                wants_successor, close_me = new_wants, new_close

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
            except SessionEnded:
                pass  # healthy session ended, or handed off: reconnect at once / stop

    async def _session(
        self,
        wants_successor: asyncio.Event,
        close_me: asyncio.Event,
        predecessor: asyncio.Event | None,
    ) -> None:
        started = time.monotonic()
        try:
            async with connect(
                self.url, max_size=2**24, ping_interval=None, compression=None, open_timeout=10
            ) as ws:
                self.connects += 1
                self.on_event("connect", {"url": self.url, "connects": self.connects})
                await self._read(ws, started, wants_successor, close_me, predecessor)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            if close_me.is_set():
                return
            reason = f"{type(exc).__name__}: {exc}"
            self.on_event("disconnect", {"reason": reason, "url": self.url})
            log.warning("%s: connection lost (%s)", self.name, reason)
            raise SessionEnded(reason, time.monotonic() - started > HEALTHY_AFTER) from exc

    async def _read(
        self,
        ws: ClientConnection,
        started: float,
        wants_successor: asyncio.Event,
        close_me: asyncio.Event,
        predecessor: asyncio.Event | None,
    ) -> None:
        handoff = None
        # a reconnect after the handoff is done (predecessor set) has nothing to hand over
        if predecessor is not None and not predecessor.is_set():
            handoff = _Handoff(predecessor)
        while not close_me.is_set():
            try:
                async with asyncio.timeout(self.silent_after):
                    frame = await ws.recv(decode=False)
            except TimeoutError:
                if close_me.is_set():
                    return
                self.on_event("stale", {"silent_for": self.silent_after, "url": self.url})
                log.error(
                    "%s: nothing for %.0fs, rebuilding the connection", self.name, self.silent_after
                )
                raise SessionEnded("silent", time.monotonic() - started > HEALTHY_AFTER) from None
            self.last_frame = now = time.monotonic()
            if handoff is not None:
                if handoff.hold(frame, now):  # type: ignore[arg-type]
                    continue
                for held in handoff.release():  # the old connection closes now
                    self.on_frame(held)
                handoff = None
            else:
                self.on_frame(frame)  # type: ignore[arg-type]
            if not wants_successor.is_set() and now - started >= self.max_age:
                self.on_event("rollover", {"age_seconds": round(now - started, 3)})
                wants_successor.set()


class _Handoff:
    """A successor's frames, held while its predecessor keeps delivering for ``HANDOFF_DRAIN`` s
    after the first one: by then the predecessor has delivered everything older than them."""

    def __init__(self, predecessor: asyncio.Event) -> None:
        self.predecessor = predecessor  # set: the predecessor closes
        self.held: list[bytes] = []
        self.until: float | None = None

    def hold(self, frame: bytes, now: float) -> bool:
        """Keep ``frame``; True while the predecessor should go on delivering."""
        if self.until is None:
            self.until = now + HANDOFF_DRAIN
        self.held.append(frame)
        return now < self.until

    def release(self) -> list[bytes]:
        self.predecessor.set()
        held, self.held = self.held, []
        return held
