"""``recorder_events`` rows: what happened to the recorder and to the data."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from collector.rows import RecorderEventRow

log = logging.getLogger(__name__)


class EventLog:
    def __init__(self, put: Callable[[tuple], None], clock: Callable[[], dt.datetime]) -> None:
        self._put = put
        self._clock = clock

    def record(self, kind: str, details: dict[str, Any] | None = None, **fields: Any) -> uuid.UUID:
        """Write one event; returns its id. ``fields`` are RecorderEventRow columns."""
        event_id = uuid.uuid4()
        text = orjson.dumps(details, default=str).decode() if details else None
        self._put(RecorderEventRow(self._clock(), event_id, kind, details=text, **fields))
        return event_id


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
