"""Typed decoding of the two streams that carry nearly every frame: aggTrade and depthUpdate in a
combined-stream envelope, straight from the frame's bytes to a row (msgspec, in C).

It is a fast path, not a second parser: it takes only frames that are well formed and carry
nothing unknown, and returns None for anything else — another event, a raw or all-market frame,
a key Binance added since, a value out of range — which then goes through ``parse`` and gets its
counting, its ``extra`` and its one log line there. The checks are ``collector.values``'s, said as
msgspec constraints; prices and sizes arrive as strings, so the decoder is lax, which also
reads an id or a flag sent as a string ("7", "true") as the value it spells.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from collector.rows import AggTradeRow, DepthUpdateRow
from collector.values import EARLIEST_MS, EPOCH, MAX_AHEAD, MAX_ID

_MS = dt.timedelta(milliseconds=1)
_Ms = Annotated[int, Meta(ge=EARLIEST_MS, le=253_402_300_799_000)]
_Id = Annotated[int, Meta(ge=0, le=MAX_ID)]
_Pu = Annotated[int, Meta(ge=-1, le=MAX_ID)]  # -1: the first diff after a stream restart
_Price = Annotated[float, Meta(gt=0.0)]  # NaN fails the bound; infinity is checked after
_Size = Annotated[float, Meta(ge=0.0)]
_Symbol = Annotated[str, Meta(min_length=1)]


class _AggTrade(Struct, tag_field="e", tag="aggTrade", forbid_unknown_fields=True):
    E: _Ms
    T: _Ms
    s: _Symbol
    a: _Id
    p: _Price
    q: _Size
    f: _Id
    l: _Id  # noqa: E741 (Binance's name)
    m: bool
    nq: _Size | None = None
    st: Any = None


class _Depth(Struct, tag_field="e", tag="depthUpdate", forbid_unknown_fields=True):
    E: _Ms
    s: _Symbol
    U: _Id
    u: _Id
    b: list[tuple[_Price, _Size]]  # a size of 0 removes the level
    a: list[tuple[_Price, _Size]]
    T: _Ms | None = None  # spot sends neither T nor pu
    pu: _Pu | None = None
    ps: Any = None
    st: Any = None


class _Frame(Struct):
    stream: str
    data: _AggTrade | _Depth


_DECODER = msgspec.json.Decoder(_Frame, strict=False)


def decode(
    frame: str | bytes, received_at: dt.datetime, market: str
) -> AggTradeRow | DepthUpdateRow | None:
    """The row of a well-formed combined aggTrade or depthUpdate frame, else None."""
    try:
        d = _DECODER.decode(frame).data
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    latest = received_at + MAX_AHEAD
    event_time = EPOCH + d.E * _MS
    if event_time > latest:
        return None
    if type(d) is _AggTrade:
        time = EPOCH + d.T * _MS
        if time > latest or not math.isfinite(d.p + d.q + (d.nq or 0.0)):
            return None
        return AggTradeRow(time, d.s, market, d.a, d.p, d.q, d.nq, d.f, d.l, d.m,
                           event_time, received_at, None)  # fmt: skip
    return _depth(d, event_time, latest, received_at, market)


def _depth(
    d: _Depth, event_time: dt.datetime, latest: dt.datetime, received_at: dt.datetime, market: str
) -> DepthUpdateRow | None:
    bid_prices = [p for p, _ in d.b]
    bid_qtys = [q for _, q in d.b]
    ask_prices = [p for p, _ in d.a]
    ask_qtys = [q for _, q in d.a]
    if not math.isfinite(sum(bid_prices) + sum(bid_qtys) + sum(ask_prices) + sum(ask_qtys)):
        return None
    transaction_time = None
    if d.T is not None:
        transaction_time = EPOCH + d.T * _MS
        if transaction_time > latest:
            return None
    return DepthUpdateRow(event_time, d.s, market, transaction_time, d.U, d.u, d.pu, bid_prices,
                          bid_qtys, ask_prices, ask_qtys, received_at, None)  # fmt: skip
