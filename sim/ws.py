"""WebSocket market streams: Binance's paths, live subscription methods and connection rules.

Paths (2026 routing): ``/public/ws[/<s1>/<s2>]``, ``/public/stream?streams=s1/s2`` and the same
under ``/market``; the retired root ``/ws`` and ``/stream`` still connect but, as on Binance, only
deliver streams that belong to ``/public``. A stream on the wrong path is acknowledged and then
silent. The server pings every ``ping_interval`` s, drops a connection that has not answered for
``pong_timeout`` s, enforces 10 incoming messages/s, and cuts every connection at its maximum age.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from sim.faults import Faults
from sim.hub import Hub, text_frame
from sim.streams import MARKET, PUBLIC, parse_stream

log = logging.getLogger(__name__)

LEGACY = "legacy"  # the pre-2026 root paths: deliver /public streams only
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
MAX_SLOW_BUFFER = 64 * 1024 * 1024  # a client this far behind is dropped, as Binance does


@dataclass(frozen=True)
class WsSettings:
    ping_interval: float = 180.0  # Binance: a ping frame every 3 minutes
    pong_timeout: float = 600.0  # disconnected without a pong for 10 minutes
    max_connection_age: float = 86_400.0  # the 24 h cut
    incoming_limit: int = 10  # messages per second per connection (pings, pongs, JSON)


class Connection:
    """One client connection: its subscriptions, its outgoing batch, its liveness."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, route: str, combined: bool, hub: Hub
    ) -> None:
        self.ws = ws
        self.transport = request.transport
        self.route = route
        self.combined = combined
        self.hub = hub
        self.subscriptions: list[str] = []
        self.pending: list[bytes] = []
        self.opened = time.monotonic()
        self.last_ping = self.opened
        self.last_pong = self.opened
        self.incoming: deque[float] = deque()
        self.frames = 0
        self.peer = request.remote

    # ---- outgoing ------------------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        if not self.pending:
            self.hub.dirty.append(self)
        self.pending.append(frame)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.frames += len(pending)
        transport.write(b"".join(pending))
        if transport.get_write_buffer_size() > MAX_SLOW_BUFFER:
            log.warning(
                "dropping slow client %s: %d bytes unsent",
                self.peer,
                transport.get_write_buffer_size(),
            )
            transport.abort()

    def buffered(self) -> int:
        transport = self.transport
        return (
            0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()
        )

    def announce_shutdown(self) -> None:
        """Binance spot's notice before it closes a connection for maintenance."""
        payload = orjson.dumps({"e": "serverShutdown", "E": int(time.time() * 1000)})
        self.push(text_frame(payload))
        self.hub.flush()

    def drop(self, abrupt: bool) -> None:
        if abrupt:
            if self.transport is not None:
                self.transport.abort()  # like a network cut: no close frame
        else:
            _keep(asyncio.ensure_future(self.ws.close(code=1001, message=b"dropped")))

    # ---- incoming limit ------------------------------------------------------------------------

    def over_limit(self, limit: int) -> bool:
        now = time.monotonic()
        incoming = self.incoming
        incoming.append(now)
        while incoming and now - incoming[0] > 1.0:
            incoming.popleft()
        return len(incoming) > limit


_background: set[asyncio.Future[Any]] = set()


def _keep(future: asyncio.Future[Any]) -> None:
    """Hold a reference to a fire-and-forget task until it finishes."""
    _background.add(future)
    future.add_done_callback(_background.discard)


def error_reply(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


class WsServer:
    """The WebSocket endpoints of the simulator."""

    def __init__(
        self,
        hub: Hub,
        faults: Faults,
        settings: WsSettings,
        symbols: Callable[[], set[str]],
        on_kline: Callable[[str], None] | None = None,
    ) -> None:
        self.hub = hub
        self.faults = faults
        self.settings = settings
        self.symbols = symbols
        self.on_kline = on_kline
        self.accepted = 0

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for prefix, route in (("/public", PUBLIC), ("/market", MARKET), ("", LEGACY)):
            routes += [
                web.get(f"{prefix}/ws", self._handler(route, False)),
                web.get(prefix + "/ws/{streams:.+}", self._handler(route, False)),
                web.get(f"{prefix}/stream", self._handler(route, True)),
            ]
        return routes

    def _handler(self, route: str, combined: bool) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if combined:
                names = [s for s in request.query.get("streams", "").split("/") if s]
            else:
                names = [s for s in request.match_info.get("streams", "").split("/") if s]
            return await self.serve(request, route, combined, names)

        return handle

    async def serve(
        self,
        request: web.Request,
        route: str,
        combined: bool,
        names: list[str],
        attach: Callable[[Connection], Callable[[], None]] | None = None,
    ) -> web.WebSocketResponse:
        """Serve one connection; ``attach`` (user-data streams) registers it and returns its
        detach callback."""
        # timeout: how long a close waits for the client's close frame (shutdown, age cut)
        ws = web.WebSocketResponse(
            autoping=False, compress=False, max_msg_size=1 << 20, timeout=2.0
        )
        await ws.prepare(request)
        connection = Connection(ws, request, route, combined, self.hub)
        self.accepted += 1
        self.hub.open.add(connection)
        self.faults.connections.add(connection)
        self._subscribe(connection, names)
        detach = attach(connection) if attach is not None else None
        keeper = asyncio.create_task(self._keep_alive(connection))
        log.debug(
            "ws open %s route=%s combined=%s streams=%s", request.remote, route, combined, names
        )
        try:
            async for message in ws:
                if connection.over_limit(self.settings.incoming_limit):
                    log.info(
                        "ws %s: over %d messages/s, disconnecting",
                        request.remote,
                        self.settings.incoming_limit,
                    )
                    await ws.close(code=1008, message=b"Too many messages")
                    break
                if message.type == WSMsgType.TEXT:
                    await ws.send_str(self._reply(connection, message.data))
                elif message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.PONG:
                    connection.last_pong = time.monotonic()
        finally:
            keeper.cancel()
            if detach is not None:
                detach()
            self._unsubscribe(connection, list(connection.subscriptions))
            self.hub.open.discard(connection)
            self.faults.connections.discard(connection)
            connection.transport = None
        return ws

    async def _keep_alive(self, connection: Connection) -> None:
        """Server pings, the pong timeout and the maximum connection age."""
        settings, ws = self.settings, connection.ws
        while not ws.closed:
            now = time.monotonic()
            age = self.faults.max_connection_age or settings.max_connection_age
            if now - connection.opened >= age:
                log.info("ws %s: maximum connection age %.1fs reached", connection.peer, age)
                await ws.close(code=1001, message=b"Maximum connection age reached")
                return
            if connection.last_ping - connection.last_pong > settings.pong_timeout:
                log.info("ws %s: no pong for %.0fs", connection.peer, settings.pong_timeout)
                await ws.close(code=1001, message=b"Pong timeout")
                return
            if now - connection.last_ping >= settings.ping_interval:
                connection.last_ping = now
                await ws.ping(str(int(time.time() * 1000)).encode())
            wake = min(connection.opened + age, connection.last_ping + settings.ping_interval)
            await asyncio.sleep(min(max(wake - now, 0.01), 0.25))

    # ---- subscriptions -------------------------------------------------------------------------

    def _deliverable(self, route: str, name: str) -> bool:
        spec = parse_stream(name)
        if spec is None:
            return False
        wanted = PUBLIC if route == LEGACY else route
        if spec.route != wanted:
            return False  # acknowledged, never delivered: Binance's silent wrong-route behaviour
        if spec.kind == "kline" and self.on_kline is not None:
            self.on_kline(spec.interval)
        return spec.symbol is None or spec.symbol in self.symbols()

    def _subscribe(self, connection: Connection, names: list[str]) -> None:
        for name in names:
            if name in connection.subscriptions:
                continue
            connection.subscriptions.append(name)
            if self._deliverable(connection.route, name):
                self.hub.add(name, connection)

    def _unsubscribe(self, connection: Connection, names: list[str]) -> None:
        for name in names:
            if name in connection.subscriptions:
                connection.subscriptions.remove(name)
                self.hub.remove(name, connection)

    # ---- the JSON methods ----------------------------------------------------------------------

    def _reply(self, connection: Connection, text: str) -> str:
        return orjson.dumps(self._answer(connection, text)).decode()

    def _answer(self, connection: Connection, text: str) -> dict[str, Any]:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return error_reply(
                3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}", None
            )
        if not isinstance(request, dict):
            return error_reply(2, "Invalid request: expected an object", None)
        request_id = request.get("id")
        if request_id is not None and (
            isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0
        ):
            return error_reply(2, "Invalid request: request ID must be an unsigned integer", None)
        method = request.get("method")
        if method is None:
            return error_reply(
                2,
                f"Invalid request: missing field `method` at line 1 column {len(text)}",
                request_id,
            )
        if method not in METHODS:
            column = text.find(str(method), text.find('"method"')) + len(str(method)) + 1
            return error_reply(
                2,
                f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, "
                "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` "
                f"at line 1 column {column}",
                request_id,
            )
        params = request.get("params", [])
        if not isinstance(params, list):
            return error_reply(2, "Invalid request: params must be an array", request_id)
        return self._method(connection, method, params, request_id)

    def _method(
        self, connection: Connection, method: str, params: list[Any], request_id: Any
    ) -> dict[str, Any]:
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) for p in params):
                return error_reply(2, "Invalid request: stream names must be strings", request_id)
            if method == "SUBSCRIBE":
                self._subscribe(connection, params)
            else:
                self._unsubscribe(connection, params)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            if params:
                return error_reply(2, "Invalid request: too many parameters", request_id)
            return {"result": list(connection.subscriptions), "id": request_id}
        expected = 2 if method == "SET_PROPERTY" else 1
        if len(params) > expected:
            return error_reply(2, "Invalid request: too many parameters", request_id)
        if not params or not isinstance(params[0], str):
            return error_reply(2, "Invalid request: property name must be a string", request_id)
        if params[0] != "combined":
            return error_reply(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return {"result": connection.combined, "id": request_id}
        if len(params) < 2 or not isinstance(params[1], bool):
            return error_reply(1, "Invalid value type: expected Boolean", request_id)
        connection.combined = params[1]
        return {"result": None, "id": request_id}
