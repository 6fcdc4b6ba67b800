"""A trading signal: what a strategy emits and what every executor consumes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

# Signal ids are uuid5 over what makes a signal unique, so the live worker after a restart and a
# backtest over the same data derive the same id, and executors can build idempotent order ids.
SIGNAL_NAMESPACE = uuid.UUID("6f1c3a52-3f0e-4a57-9a52-2d0f0d6b7a11")


class Side(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1


class Quality(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


@dataclass(frozen=True)
class Signal:
    """One entry signal. Times are integer ms since the epoch (UTC), as in `indicators/`.

    `stop` is the protective stop; `targets` holds one or two take-profit prices, nearest first.
    `reasons` carries the indicator values that caused the signal (JSON-serialisable).
    """

    time_ms: int
    symbol: str
    strategy: str
    side: Side
    entry: float
    stop: float
    targets: tuple[float, ...]
    quality: Quality
    score: float
    reasons: dict[str, float | int | str | bool | None] = field(default_factory=dict)
    venue: str = "binance"  # whose recorded rows it came from (strategy/venue.py)

    @property
    def signal_id(self) -> uuid.UUID:
        key = f"{self.strategy}|{self.symbol}|{self.time_ms}|{self.side.value}"
        if self.venue != "binance":  # Binance's ids stay what they were before venues
            key += f"|{self.venue}"
        return uuid.uuid5(SIGNAL_NAMESPACE, key)

    @property
    def risk_per_unit(self) -> float:
        """Price distance from entry to stop (always positive for a well-formed signal)."""
        return abs(self.entry - self.stop)
