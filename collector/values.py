"""Exchange values checked at the edge, for every venue's parser: times lie between 2017 and a day
past the local clock, prices are finite and positive, quantities finite and not negative
(``float`` alone accepts "NaN", "inf" and "1e999"), ids are integers in bigint range. Each check
raises ``ValueError``/``TypeError``, which the parser's caller counts and skips."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import orjson

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)

Payload = dict[str, Any]

EARLIEST_MS = 1_483_228_800_000  # 2017-01-01: nothing any venue sends is older
MAX_AHEAD = dt.timedelta(days=1)  # how far past the local clock an exchange time may lie
MAX_ID = 2**63 - 1  # ids are stored as bigint


def ms_time(ms: int, now: dt.datetime | None = None) -> dt.datetime:
    """Millisecond epoch -> aware UTC datetime, exactly (no float rounding); refused
    before 2017 or (given the receive time ``now``) more than ``MAX_AHEAD`` past it."""
    if type(ms) is not int:
        raise TypeError(f"expected integer milliseconds, got {ms!r}")
    if ms < EARLIEST_MS or ms > 253_402_300_799_000:  # datetime ends at 9999-12-31
        raise ValueError(f"time {ms} ms is out of range")
    t = EPOCH + ms * _MS
    if now is not None and t > now + MAX_AHEAD:
        raise ValueError(f"time {ms} ms is more than {MAX_AHEAD} ahead of the local clock")
    return t


def check_id(value: Any, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError(f"{name} must be an integer id, got {value!r}")
    return value


INF = math.inf


def check_number(value: Any, name: str) -> float:
    if type(value) is bool:
        raise TypeError(f"{name} must be a decimal, got {value!r}")
    number = float(value)
    if not -INF < number < INF:  # False for NaN too
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def check_price(value: Any, name: str) -> float:
    number = float(value) if type(value) is not bool else -1.0
    if not 0.0 < number < INF:  # False for NaN too
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def check_size(value: Any, name: str) -> float:
    number = float(value) if type(value) is not bool else -1.0
    if not 0.0 <= number < INF:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def extra_json(payload: Payload, known: frozenset[str]) -> str | None:
    unknown = payload.keys() - known
    if not unknown:
        return None
    return orjson.dumps({k: payload[k] for k in sorted(unknown)}).decode()


def check_bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{name} must be a boolean, got {value!r}")
    return value


def optional(value: Any, name: str, check: Any = check_number) -> float | None:
    return None if value is None or value == "" else check(value, name)


def book_levels(levels: list[list[str]]) -> tuple[list[float], list[float]]:
    prices = [float(p) for p, _ in levels]
    qtys = [float(q) for _, q in levels]
    # checked in bulk, in C (per-level checks doubled the cost of a depth frame): a NaN or an
    # infinity makes the sum non-finite; then the smallest price and quantity decide the sign
    if prices and not (
        math.isfinite(sum(prices) + sum(qtys)) and min(prices) > 0.0 and min(qtys) >= 0.0
    ):
        raise ValueError(f"level prices must be positive and quantities >= 0, finite: {levels!r}")
    return prices, qtys


def check_symbol(value: Any) -> str:
    if type(value) is not str or not value:
        raise TypeError(f"symbol must be a string, got {value!r}")
    return value
