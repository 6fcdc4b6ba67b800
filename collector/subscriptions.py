"""The recorder's stream connections: which connection carries which stream, changed live.

Streams are grouped by route into connections of at most ``MAX_STREAMS_PER_CONNECTION``. When the
top:N universe changes, per-symbol streams are unsubscribed from the connection that carries them
and subscribed on a connection of the right route with room, or on a new one when all are full;
a connection left with no stream is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from collector import metrics
from collector.connection import CONTROL_INTERVAL, StreamConnection
from collector.events import EventLog
from collector.venues.binance import streams
from db.writer import CommitWatermark

# The watermark stays held this long after a dropped connection is back: by then the first trade
# of every liquid symbol has shown whether ids were missed, and each hole's own hold carries on
# until its backfill is committed. (Not until its first frame: a quiet connection may send none
# for minutes. A connection rebuilt for silence is not held: silence is what it had to say.)
RESUME_SETTLE = 1.0
ConnectionFactory = Callable[[str, str, list[str]], StreamConnection]  # (name, route, names)


def connection_factory(
    ws_base: str,
    on_frame: Callable[[str | bytes], bool | None],
    events: EventLog,
    *,
    max_age: float,
    silent_after: float,
    control_interval: float = CONTROL_INTERVAL,
    watermark: CommitWatermark | None = None,
    on_down: Callable[[list[str]], None] | None = None,
    on_back: Callable[[list[str]], None] | None = None,
) -> ConnectionFactory:
    """Connections to ``ws_base`` whose frames go to ``on_frame`` and whose life is recorded;
    while one is down, ``watermark`` is held (what it misses is backfilled once it is back) and
    ``on_down`` is told which streams it carried; ``on_back`` when it is connected again."""

    def make(name: str, route: str, names: list[str]) -> StreamConnection:
        def url_for(names: list[str]) -> str:
            return streams.combined_url(ws_base, route, names)

        conn = StreamConnection(
            name,
            url_for(names),
            on_frame,
            max_age=max_age,
            silent_after=silent_after,
            streams=names,
            url_for=url_for,
            control_interval=control_interval,
        )
        down = None if on_down is None else (lambda: on_down(conn.streams))
        back = None if on_back is None else (lambda: on_back(conn.streams))
        conn.on_event = connection_events(name, events, watermark, down, back)
        return conn

    return make


def connection_events(
    name: str,
    events: EventLog,
    watermark: CommitWatermark | None = None,
    on_down: Callable[[], None] | None = None,
    on_back: Callable[[], None] | None = None,
) -> Callable[[str, dict], None]:
    downs = 0  # the hold while down is (name, downs): a release never ends a later one

    def on_event(kind: str, details: dict) -> None:
        nonlocal downs
        if kind == "closed":  # not coming back (or shutting down): nothing of it to wait for
            if watermark is not None:
                watermark.release((name, downs))
            return
        if kind == "connect":
            metrics.RECONNECTS.labels(name).inc()
            if watermark is not None:  # by then its first trades have shown any missed ids
                loop = asyncio.get_running_loop()
                loop.call_later(RESUME_SETTLE, watermark.release, (name, downs))
            if details.get("connects", 1) > 1 and on_back is not None:
                on_back()
        if kind in ("disconnect", "stale") and on_down is not None:
            on_down()
        if kind == "stale":
            metrics.STALE.labels(name).inc()
        elif kind == "disconnect" and watermark is not None:
            downs += 1
            watermark.hold((name, downs))
        events.record(kind, details, stream=name)

    return on_event


class Subscriptions:
    def __init__(
        self,
        initial: list[streams.Stream],
        make: ConnectionFactory,
        per_connection: int = streams.MAX_STREAMS_PER_CONNECTION,
    ) -> None:
        self.make = make
        self.per_connection = per_connection
        self.connections: list[StreamConnection] = []
        self.routes: dict[str, str] = {}  # connection name -> route
        self._made = 0
        self._tasks: dict[str, asyncio.Task] = {}
        self._tg: asyncio.TaskGroup | None = None
        for group in streams.group(initial, per_connection):
            self._new(group[0].route, [s.name for s in group])

    async def run(self) -> None:
        """Run every connection, including those opened later, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            for c in self.connections:
                self._start(c)
            await asyncio.Event().wait()

    def change(self, add: list[streams.Stream], remove: list[streams.Stream]) -> None:
        gone = {s.name for s in remove}
        for c in list(self.connections):
            names = [n for n in c.streams if n in gone]
            if names and len(names) == len(c.streams):
                self._close(c)
            elif names:
                c.change([], names)
        for route in streams.ROUTES:
            names = [s.name for s in add if s.route == route]
            for c in self.connections:
                room = self.per_connection - len(c.streams)
                if names and self.routes[c.name] == route and room > 0:
                    c.change(names[:room], [])
                    names = names[room:]
            while names:
                self._start(self._new(route, names[: self.per_connection]))
                names = names[self.per_connection :]

    def _new(self, route: str, names: list[str]) -> StreamConnection:
        name = f"{route}-{self._made}"
        self._made += 1
        c = self.make(name, route, names)
        self.connections.append(c)
        self.routes[name] = route
        return c

    def _start(self, c: StreamConnection) -> None:
        if self._tg is not None:
            self._tasks[c.name] = self._tg.create_task(c.run(), name=f"ws:{c.name}")

    def _close(self, c: StreamConnection) -> None:
        self.connections.remove(c)
        task = self._tasks.pop(c.name, None)
        if task is not None:
            task.cancel()
