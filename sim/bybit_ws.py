"""Bybit v5's public linear WebSocket: ``/v5/public/linear``, JSON ops and their acks.

The client drives everything with ``{"op": ..., "args": [...], "req_id": ...}``:

- ``subscribe`` / ``unsubscribe``: acked with ``{"success", "ret_msg", "conn_id", "req_id",
  "op"}``. A topic the venue does not have fails the ack (``error:handler not found,topic:…``),
  as does one already subscribed; the valid topics of the same request are still subscribed.
  All of a connection's topics may total at most 21,000 characters. An orderbook or tickers
  subscription gets its snapshot right after the ack, on that connection only.
- ``ping``: answered ``{"success": true, "ret_msg": "pong", ..., "op": "ping"}``. Bybit wants one
  about every 20 s and closes a connection it has not heard from for ``idle_timeout`` seconds
  (about 10 minutes; only JSON messages count, protocol pings are answered but do not); the
  server itself never pings.

Data frames are the bare payloads (no ``{"stream","data"}`` wrapper).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from sim.bybit import BYBIT, BybitFeed
from sim.faults import Faults
from sim.hub import text_frame
from sim.ws import Connection

log = logging.getLogger(__name__)

LINEAR_PATH = "/v5/public/linear"
MAX_ARGS_CHARS = 21_000  # a public connection's topics, all together
IDLE_TIMEOUT = 600.0  # seconds without a message from the client before Bybit closes


class BybitConnection(Connection):
    """A Bybit connection: Binance's fan-out and drop machinery, plus a conn_id and the time
    the client was last heard from."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, feed: BybitFeed) -> None:
        super().__init__(ws, request, BYBIT, False, feed.hub)
        self.conn_id = str(uuid.uuid4())
        self.heard = time.monotonic()  # the last JSON message from the client

    def announce_shutdown(self) -> None:
        """Bybit sends no notice before maintenance (Binance spot's serverShutdown)."""


def ack(connection: BybitConnection, op: str, req_id: Any, error: str = "") -> dict[str, Any]:
    reply: dict[str, Any] = {
        "success": not error,
        "ret_msg": error,
        "conn_id": connection.conn_id,
    }
    if req_id is not None:
        reply["req_id"] = req_id
    reply["op"] = op
    return reply


class BybitWsServer:
    """The ``/v5/public/linear`` endpoint over a ``BybitFeed``."""

    def __init__(self, feed: BybitFeed, faults: Faults, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.feed = feed
        self.hub = feed.hub
        self.faults = faults
        self.idle_timeout = idle_timeout
        self.accepted = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.get(LINEAR_PATH, self.serve)]

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=1 << 20, timeout=2.0)
        await ws.prepare(request)
        connection = BybitConnection(ws, request, self.feed)
        self.accepted += 1
        self.hub.open.add(connection)
        self.faults.connections.add(connection)
        watcher = asyncio.create_task(self._idle_watch(connection))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                connection.heard = time.monotonic()
                reply, added = self._answer(connection, message.data)
                await ws.send_str(orjson.dumps(reply).decode())
                self._attach(connection, added)
        finally:
            watcher.cancel()
            for topic in connection.subscriptions:
                self.hub.remove(topic, connection)
            connection.subscriptions.clear()
            self.hub.open.discard(connection)
            self.faults.connections.discard(connection)
            connection.transport = None
        return ws

    async def _idle_watch(self, connection: BybitConnection) -> None:
        ws = connection.ws
        while not ws.closed:
            quiet = time.monotonic() - connection.heard
            if quiet >= self.idle_timeout:
                log.info("bybit ws %s: silent for %.0fs, closing", connection.peer, quiet)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=1000, message=b"idle")
                return
            await asyncio.sleep(min(self.idle_timeout - quiet, 0.25))

    # ---- ops -----------------------------------------------------------------------------------

    def _answer(self, connection: BybitConnection, text: str) -> tuple[dict[str, Any], list[str]]:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            return ack(connection, "", None, "error:request not a JSON object"), []
        if not isinstance(request, dict):
            return ack(connection, "", None, "error:request not a JSON object"), []
        op, req_id = request.get("op"), request.get("req_id")
        if op == "ping":
            pong = {"success": True, "ret_msg": "pong", "conn_id": connection.conn_id}
            return {**pong, "req_id": req_id or "", "op": "ping"}, []
        args = request.get("args", [])
        if op not in ("subscribe", "unsubscribe"):
            return ack(connection, str(op), req_id, f"error:unknown op {op}"), []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return ack(connection, op, req_id, "error:args must be a list of topics"), []
        if op == "unsubscribe":
            for topic in args:
                if topic in connection.subscriptions:
                    connection.subscriptions.remove(topic)
                    self.hub.remove(topic, connection)
            return ack(connection, op, req_id), []
        return self._subscribe(connection, args, req_id)

    def _subscribe(
        self, connection: BybitConnection, args: list[str], req_id: Any
    ) -> tuple[dict[str, Any], list[str]]:
        total = sum(len(t) for t in [*connection.subscriptions, *args])
        if total > MAX_ARGS_CHARS:
            return ack(connection, "subscribe", req_id, f"error:args exceed {MAX_ARGS_CHARS}"), []
        errors, added = [], []
        for topic in args:
            if not self.feed.topic_exists(topic):
                errors.append(f"error:handler not found,topic:{topic}")
            elif topic in connection.subscriptions or topic in added:
                errors.append(f"error:already subscribed,topic:{topic}")
            else:
                added.append(topic)
        connection.subscriptions.extend(added)
        return ack(connection, "subscribe", req_id, ";".join(errors)), added

    def _attach(self, connection: BybitConnection, topics: list[str]) -> None:
        """Start delivery of ``topics`` after their ack: each snapshot first, then (from the next
        step on) the deltas that follow it. No await between the two, so none slips in."""
        for topic in topics:
            if topic not in connection.subscriptions:
                continue  # unsubscribed meanwhile
            self.hub.add(topic, connection)
            snapshot = self.feed.snapshot(topic)
            if snapshot is not None:
                connection.push(text_frame(orjson.dumps(snapshot)))
        self.hub.flush()
