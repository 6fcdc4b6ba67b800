"""Faults on demand: the misbehaviours of Binance a client must survive.

The state lives here; the hub, the feed, the WebSocket handler and the REST middleware consult it.
Call the methods from Python (``sim.faults.drop_connections()``) or through the control API.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_EXTRA_FIELDS: dict[str, Any] = {"xs": "sim-new-field", "xn": 7}

# Binance's bodies for the statuses a fault can force (see the reference, C.1).
REST_ERROR_BODIES: dict[int, dict[str, Any]] = {
    408: {
        "code": -1007,
        "msg": "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
    },
    500: {
        "code": -1001,
        "msg": "Internal error; unable to process your request. Please try again.",
    },
    502: {
        "code": -1001,
        "msg": "Internal error; unable to process your request. Please try again.",
    },
    503: {
        "code": -1008,
        "msg": "Server is currently overloaded with other requests. "
        "Please try again in a few minutes.",
    },
    504: {
        "code": -1007,
        "msg": "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
    },
}


class Droppable(Protocol):
    route: str

    def drop(self, abrupt: bool) -> None: ...

    def announce_shutdown(self) -> None: ...


@dataclass
class AfterAccept:
    """Answer an order request with an error *after* the exchange accepted the order."""

    status: int  # a 5xx/408 of REST_ERROR_BODIES
    remaining: int
    path: str
    delay: float  # seconds before answering (longer than the client's timeout = a timeout)


@dataclass
class RestFault:
    status: int  # 429, 418 or 5xx/408
    remaining: int
    path: str | None  # only requests whose path starts with this; None: any /fapi request
    retry_after: int


class Faults:
    """Switchable faults. Every one is off until asked for."""

    def __init__(self) -> None:
        self.connections: set[Droppable] = set()  # filled by the WebSocket handler
        self.silenced: set[str] = set()
        self.malformed = 0  # frames left to corrupt
        self.malformed_stream: str | None = None
        self.extra_fields: dict[str, Any] = {}
        self.poisoned: dict[str, list[dict[str, Any]]] = {}  # stream -> overrides, next first
        self.depth_skips: dict[str, int] = {}  # symbol → depth events to drop per speed
        self.rest_faults: deque[RestFault] = deque()
        self.rest_delay = 0.0
        self.rest_delay_remaining: int | None = None  # None: every request while rest_delay > 0
        self.max_connection_age: float | None = None  # seconds; overrides the simulator's
        self.after_accept: deque[AfterAccept] = deque()
        self.algo_rejects: deque[tuple[int, str]] = deque()
        self.clock_skew_ms = 0  # added to the server clock signed requests are checked against
        self.skew_time_endpoint = True  # whether /fapi/v1/time reports the skewed clock too
        self.listen_key_expirer: Callable[[], int] | None = None  # set by the simulator
        self._timers: list[asyncio.TimerHandle] = []

    # ---- WebSocket -----------------------------------------------------------------------------

    def drop_connections(self, route: str | None = None, abrupt: bool = True) -> int:
        """Cut WebSocket connections now (all, or those on ``route``); abrupt = no close frame."""
        victims = [c for c in self.connections if route is None or c.route == route]
        for connection in victims:
            connection.drop(abrupt)
        log.info("fault: dropped %d connection(s) route=%s abrupt=%s", len(victims), route, abrupt)
        return len(victims)

    def server_shutdown(self, route: str | None = None, close_after: float = 1.0) -> int:
        """Announce ``serverShutdown`` (spot, before maintenance) on connections (all, or those
        on ``route``), then close them cleanly ``close_after`` s later."""
        victims = [c for c in self.connections if route is None or c.route == route]
        loop = asyncio.get_running_loop()
        for connection in victims:
            connection.announce_shutdown()
            self._timers.append(loop.call_later(close_after, connection.drop, False))
        return len(victims)

    def skip_depth_ids(self, symbol: str, count: int = 1) -> None:
        """Withhold the next ``count`` diff-depth events of ``symbol`` per speed (a pu break)."""
        self.depth_skips[symbol.upper()] = count

    def silence(self, stream: str, seconds: float | None = None) -> None:
        """Stop delivering ``stream`` (subscriptions stay acknowledged), for ``seconds`` or until
        ``unsilence``."""
        self.silenced.add(stream)
        if seconds is not None:
            handle = asyncio.get_running_loop().call_later(seconds, self.unsilence, stream)
            self._timers.append(handle)

    def unsilence(self, stream: str) -> None:
        self.silenced.discard(stream)

    def malformed_frames(self, count: int = 1, stream: str | None = None) -> None:
        """Cut the next ``count`` frames (of ``stream``, or of any stream) in half: invalid JSON."""
        self.malformed = count
        self.malformed_stream = stream

    def take_malformed(self, name: str) -> bool:
        if self.malformed_stream is not None and name != self.malformed_stream:
            return False
        self.malformed -= 1
        return True

    def unknown_fields(self, enabled: bool = True, fields: dict[str, Any] | None = None) -> None:
        """Add keys Binance might introduce tomorrow to every payload."""
        self.extra_fields = dict(fields or DEFAULT_EXTRA_FIELDS) if enabled else {}

    def with_extra_fields(self, payload: dict[str, Any] | list[Any]) -> dict[str, Any] | list[Any]:
        if isinstance(payload, list):
            return [{**item, **self.extra_fields} for item in payload]
        return {**payload, **self.extra_fields}

    def poison_frames(self, stream: str, *overrides: dict[str, Any]) -> None:
        """Overwrite fields of the next payloads of ``stream``, one override per payload (a
        "NaN" price, a time in year 33658, an id of 10**15): valid JSON a client must refuse.
        The payload replaced is lost to the stream; the ground truth keeps the real one."""
        self.poisoned.setdefault(stream, []).extend(dict(o) for o in overrides)

    def take_poison(self, name: str, payload: dict[str, Any] | list[Any]) -> Any:
        queue = self.poisoned.get(name)
        if not queue:
            return payload
        fields = queue.pop(0)
        if not queue:
            del self.poisoned[name]
        if isinstance(payload, list):  # an all-market array: its first element
            return [{**payload[0], **fields}, *payload[1:]] if payload else payload
        return {**payload, **fields}

    def shorten_connection_age(self, seconds: float | None) -> None:
        """Cut every connection (existing ones too) ``seconds`` after it opened; None restores."""
        self.max_connection_age = seconds

    # ---- REST ----------------------------------------------------------------------------------

    def rest_error(
        self, status: int, count: int = 1, path: str | None = None, retry_after: int = 5
    ) -> None:
        """Answer the next ``count`` REST requests (under ``path``) with ``status``."""
        if status not in (418, 429) and status not in REST_ERROR_BODIES:
            raise ValueError(f"unsupported fault status {status}")
        self.rest_faults.append(RestFault(status, count, path, retry_after))

    def take_rest_fault(self, path: str) -> RestFault | None:
        for fault in self.rest_faults:
            if fault.path is None or path.startswith(fault.path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.rest_faults.remove(fault)
                return fault
        return None

    def slow_rest(self, seconds: float, count: int | None = None) -> None:
        """Delay REST answers by ``seconds`` (the next ``count`` of them, or all until cleared)."""
        self.rest_delay = seconds
        self.rest_delay_remaining = count

    def take_rest_delay(self) -> float:
        if self.rest_delay <= 0:
            return 0.0
        if self.rest_delay_remaining is not None:
            self.rest_delay_remaining -= 1
            if self.rest_delay_remaining <= 0:
                delay, self.rest_delay = self.rest_delay, 0.0
                return delay
        return self.rest_delay

    # ---- trading -------------------------------------------------------------------------------

    def fail_after_accept(
        self, status: int = 502, count: int = 1, path: str = "/fapi/v1/order", delay: float = 0.0
    ) -> None:
        """Accept the next ``count`` order requests under ``path``, then answer ``status`` (after
        ``delay`` s): the client cannot know whether its order exists ("status unknown")."""
        if status not in REST_ERROR_BODIES:
            raise ValueError(f"unsupported fault status {status}")
        self.after_accept.append(AfterAccept(status, count, path, delay))

    def take_after_accept(self, path: str) -> AfterAccept | None:
        for fault in self.after_accept:
            if path.startswith(fault.path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.after_accept.remove(fault)
                return fault
        return None

    def reject_algo(
        self, count: int = 1, code: int = -2021, msg: str = "Order would immediately trigger."
    ) -> None:
        """Reject the next ``count`` algo orders with Binance error ``code``."""
        self.algo_rejects.extend([(code, msg)] * count)

    def skew_clock(self, ms: int, time_endpoint: bool = True) -> None:
        """Move the server clock by ``ms``; with ``time_endpoint=False`` /fapi/v1/time keeps the
        true time, so a client that re-syncs still cannot get in (a broken host clock)."""
        self.clock_skew_ms = ms
        self.skew_time_endpoint = time_endpoint

    def expire_listen_keys(self) -> int:
        """Expire every listen key now (``listenKeyExpired`` on their streams)."""
        return self.listen_key_expirer() if self.listen_key_expirer is not None else 0

    # ---- all -----------------------------------------------------------------------------------

    def clear(self) -> None:
        """Switch every fault off (connections already dropped stay dropped)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self.silenced.clear()
        self.malformed = 0
        self.malformed_stream = None
        self.extra_fields = {}
        self.poisoned.clear()
        self.depth_skips.clear()
        self.rest_faults.clear()
        self.rest_delay = 0.0
        self.rest_delay_remaining = None
        self.max_connection_age = None
        self.after_accept.clear()
        self.algo_rejects.clear()
        self.clock_skew_ms = 0
        self.skew_time_endpoint = True

    def state(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "silenced": sorted(self.silenced),
            "malformed": self.malformed,
            "extra_fields": self.extra_fields,
            "poisoned": {k: len(v) for k, v in self.poisoned.items()},
            "depth_skips": self.depth_skips,
            "rest_faults": [vars(f) for f in self.rest_faults],
            "rest_delay": self.rest_delay,
            "max_connection_age": self.max_connection_age,
            "after_accept": [vars(f) for f in self.after_accept],
            "algo_rejects": len(self.algo_rejects),
            "clock_skew_ms": self.clock_skew_ms,
        }
