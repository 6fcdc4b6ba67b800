"""Listen keys and the user-data stream on ``/private``.

``POST /fapi/v1/listenKey`` returns the account's active key (extending it) or a new one; ``PUT``
extends it; ``DELETE`` closes it. A key lives ``ttl`` seconds (Binance: 60 minutes) after its last
extension; when it lapses its streams get ``listenKeyExpired`` and nothing more, and ``PUT``
answers -1125. Connect with ``/private/ws?listenKey=<k>&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE``
(no ``events``: every event) or ``/private/stream?...`` for the ``{"stream","data"}`` wrapping.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from sim.accounts import Account
from sim.hub import Hub, combined, text_frame
from sim.rest import ApiError, json_response
from sim.ws import Connection, WsServer

log = logging.getLogger(__name__)

PRIVATE = "private"
_KEY_ALPHABET = string.ascii_letters + string.digits


def no_listen_key() -> ApiError:
    return ApiError(-1125, "This listenKey does not exist.")


@dataclass
class ListenKey:
    key: str
    account: Account
    expires: float  # time.monotonic()


class UserData:
    def __init__(self, hub: Hub, ttl: float, clock: Callable[[], int]) -> None:
        self.hub = hub
        self.ttl = ttl
        self.clock = clock  # server ms, for event times
        self.keys: dict[str, ListenKey] = {}
        self.streams: dict[str, dict[Connection, frozenset[str] | None]] = {}

    # ---- listen keys ---------------------------------------------------------------------------

    def _active(self, account: Account) -> ListenKey | None:
        for lk in self.keys.values():
            if lk.account is account:
                return lk
        return None

    def create(self, account: Account) -> str:
        lk = self._active(account)
        if lk is None:
            key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(64))
            lk = self.keys[key] = ListenKey(key, account, 0.0)
        lk.expires = time.monotonic() + self.ttl
        return lk.key

    def keepalive(self, account: Account) -> str:
        lk = self._active(account)
        if lk is None:
            raise no_listen_key()
        lk.expires = time.monotonic() + self.ttl
        return lk.key

    def delete(self, account: Account) -> None:
        lk = self._active(account)
        if lk is not None:
            self._close(lk, expired=False)

    def expire(self, account: Account | None = None) -> int:
        """Expire listen keys now (an account's, or all): the fault behind "listen key expiry"."""
        victims = [lk for lk in self.keys.values() if account is None or lk.account is account]
        for lk in victims:
            self._close(lk, expired=True)
        return len(victims)

    def _close(self, lk: ListenKey, expired: bool) -> None:
        self.keys.pop(lk.key, None)
        if expired:
            # Binance's docs show E as a string in this one event.
            event = {"e": "listenKeyExpired", "E": str(self.clock()), "listenKey": lk.key}
            self._deliver(lk.key, "listenKeyExpired", event)
            log.info("listen key %s… expired", lk.key[:8])
        self.streams.pop(lk.key, None)  # no more events on its connections

    async def run(self, every: float = 0.1) -> None:
        """Expire keys whose time has come."""
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for lk in [lk for lk in self.keys.values() if lk.expires <= now]:
                self._close(lk, expired=True)

    # ---- events --------------------------------------------------------------------------------

    def publish(self, account: Account, event: dict[str, Any]) -> None:
        lk = self._active(account)
        if lk is not None:
            self._deliver(lk.key, event["e"], event)

    def _deliver(self, key: str, kind: str, event: dict[str, Any]) -> None:
        listeners = self.streams.get(key)
        if not listeners:
            return
        raw = orjson.dumps(event)
        for connection, events in listeners.items():
            if events is None or kind in events or kind == "listenKeyExpired":
                connection.push(text_frame(combined(key, raw) if connection.combined else raw))
        self.hub.flush()

    # ---- the WebSocket routes ------------------------------------------------------------------

    def routes(self, ws: WsServer) -> list[web.RouteDef]:
        def handler(combined_form: bool) -> Callable[[web.Request], Any]:
            async def handle(request: web.Request) -> web.StreamResponse:
                key = request.query.get("listenKey", "")
                if key not in self.keys:
                    err = no_listen_key()
                    return json_response({"code": err.code, "msg": err.msg}, 400)
                raw = request.query.get("events")
                events = frozenset(e for e in raw.split("/") if e) if raw else None
                return await ws.serve(
                    request, PRIVATE, combined_form, [], attach=self._attacher(key, events)
                )

            return handle

        return [
            web.get("/private/ws", handler(False)),
            web.get("/private/stream", handler(True)),
        ]

    def _attacher(
        self, key: str, events: frozenset[str] | None
    ) -> Callable[[Connection], Callable[[], None]]:
        def attach(connection: Connection) -> Callable[[], None]:
            self.streams.setdefault(key, {})[connection] = events

            def detach() -> None:
                self.streams.get(key, {}).pop(connection, None)

            return detach

        return attach
