"""Fan-out: which connection listens to which stream, and delivery of serialised frames.

Each payload is serialised once per publish (orjson) and framed once per form (raw or combined
``{"stream","data"}``), however many connections listen. Frames are queued per connection during a
feed step and written in one ``transport.write`` at the step's end: one syscall per connection per
step instead of one per message is what lets a single Python process push 100k+ messages/s.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from sim.faults import Faults

log = logging.getLogger(__name__)


class Listener(Protocol):
    combined: bool

    def push(self, frame: bytes) -> None: ...


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (server → client) around ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def combined(name: str, raw: bytes) -> bytes:
    return b'{"stream":"' + name.encode() + b'","data":' + raw + b"}"


class Hub:
    """Stream name → listening connections, plus the per-step write batching."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.listeners: dict[str, set[Listener]] = defaultdict(set)
        self.dirty: list[Any] = []  # connections with frames queued this step
        self.frames = 0  # frames queued to connections since start
        self.tap: list[tuple[str, bytes]] | None = None  # when a list: every publish, in order
        self.open: set[Any] = set()  # every open connection, listening or not

    def wants(self, name: str) -> bool:
        return bool(self.listeners.get(name)) or self.tap is not None

    def add(self, name: str, listener: Listener) -> None:
        self.listeners[name].add(listener)

    def remove(self, name: str, listener: Listener) -> None:
        listeners = self.listeners.get(name)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.listeners[name]

    def publish(self, name: str, payload: dict[str, Any] | list[Any]) -> None:
        """Serialise and deliver one payload on stream ``name``."""
        faults = self.faults
        if faults.extra_fields:
            payload = faults.with_extra_fields(payload)
        if faults.poisoned and name in faults.poisoned:
            payload = faults.take_poison(name, payload)
        self.publish_raw(name, orjson.dumps(payload))

    def publish_raw(self, name: str, raw: bytes) -> None:
        if self.tap is not None:
            self.tap.append((name, raw))
        listeners = self.listeners.get(name)
        if not listeners:
            return
        faults = self.faults
        if faults.silenced and name in faults.silenced:
            return
        if faults.malformed and faults.take_malformed(name):
            raw = raw[: len(raw) // 2]  # a frame cut mid-JSON
        raw_frame = combined_frame = None
        for listener in listeners:
            if listener.combined:
                if combined_frame is None:
                    combined_frame = text_frame(combined(name, raw))
                listener.push(combined_frame)
            else:
                if raw_frame is None:
                    raw_frame = text_frame(raw)
                listener.push(raw_frame)
        self.frames += len(listeners)

    def flush(self) -> None:
        """Write every connection's queued frames (end of a feed step)."""
        dirty, self.dirty = self.dirty, []
        for connection in dirty:
            connection.flush()

    def congested(self, high_water: int) -> bool:
        """True while some connection has more than ``high_water`` bytes waiting in its socket."""
        return any(c.buffered() > high_water for c in self.open)
