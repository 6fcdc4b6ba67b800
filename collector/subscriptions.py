"""The recorder's stream connections: which connection carries which stream, changed live.

Streams are grouped by route into connections of at most ``MAX_STREAMS_PER_CONNECTION``. When the
top:N universe changes, per-symbol streams are unsubscribed from the connection that carries them
and subscribed on a connection of the right route with room, or on a new one when all are full;
a connection left with no stream is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from collector import metrics, streams
from collector.connection import CONTROL_INTERVAL, StreamConnection
from collector.events import EventLog

ConnectionFactory = Callable[[str, str, list[str]], StreamConnection]  # (name, route, names)


def connection_factory(
    ws_base: str,
    on_frame: Callable[[str | bytes], None],
    events: EventLog,
    *,
    max_age: float,
    silent_after: float,
    control_interval: float = CONTROL_INTERVAL,
) -> ConnectionFactory:
    """Connections to ``ws_base`` whose frames go to ``on_frame`` and whose life is recorded."""

    def make(name: str, route: str, names: list[str]) -> StreamConnection:
        def url_for(names: list[str]) -> str:
            return streams.combined_url(ws_base, route, names)

        return StreamConnection(
            name,
            url_for(names),
            on_frame,
            on_event=connection_events(name, events),
            max_age=max_age,
            silent_after=silent_after,
            streams=names,
            url_for=url_for,
            control_interval=control_interval,
        )

    return make


def connection_events(name: str, events: EventLog) -> Callable[[str, dict], None]:
    def on_event(kind: str, details: dict) -> None:
        if kind == "connect":
            metrics.RECONNECTS.labels(name).inc()
        elif kind == "stale":
            metrics.STALE.labels(name).inc()
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
