"""Binance USD-M (and spot) payloads -> rows. The only place that indexes raw exchange dicts.

Every parser takes the decoded payload (the ``data`` of a combined-stream frame) and the local
receive time, and raises ``ValueError``/``KeyError``/``TypeError`` on a malformed payload; the
caller counts and logs those, it never crashes on them. Keys we do not know are kept, as JSON
text, in the row's ``extra`` (Binance adds fields over time: ``nq``, ``st``, ``ps`` in 2026).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from collector.rows import (
    AggTradeRow,
    DepthSnapshotRow,
    DepthUpdateRow,
    ForceOrderRow,
    MarkPriceRow,
    OpenInterestRow,
)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)

Payload = dict[str, Any]


def ms_time(ms: int) -> dt.datetime:
    """Binance millisecond epoch -> aware UTC datetime, exactly (no float rounding)."""
    if type(ms) is not int:
        raise TypeError(f"expected integer milliseconds, got {ms!r}")
    return EPOCH + ms * _MS


def _extra(payload: Payload, known: frozenset[str]) -> str | None:
    unknown = payload.keys() - known
    if not unknown:
        return None
    return orjson.dumps({k: payload[k] for k in sorted(unknown)}).decode()


def _bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{name} must be a boolean, got {value!r}")
    return value


def _opt_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _levels(levels: list[list[str]]) -> tuple[list[float], list[float]]:
    prices = [float(p) for p, _ in levels]
    qtys = [float(q) for _, q in levels]
    return prices, qtys


_AGG_TRADE_KEYS = frozenset(["e", "E", "s", "a", "p", "q", "nq", "f", "l", "T", "m", "st"])


def agg_trade(d: Payload, received_at: dt.datetime, market: str = "usdm") -> AggTradeRow:
    """``<symbol>@aggTrade``.

    {"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100",
     "nq":"100","f":100,"l":105,"T":123456785,"m":true}
    Spot adds ``M`` (ignore: "was the trade the best price match"), kept in ``extra``.
    """
    if d["e"] != "aggTrade":
        raise ValueError(f"not an aggTrade: {d['e']!r}")
    return AggTradeRow(
        ms_time(d["T"]),
        d["s"],
        market,
        int(d["a"]),
        float(d["p"]),
        float(d["q"]),
        _opt_float(d.get("nq")),
        int(d["f"]),
        int(d["l"]),
        _bool(d["m"], "m"),
        ms_time(d["E"]),
        received_at,
        _extra(d, _AGG_TRADE_KEYS),
    )


_REST_AGG_TRADE_KEYS = frozenset(["a", "p", "q", "nq", "f", "l", "T", "m"])


def rest_agg_trade(
    d: Payload, symbol: str, received_at: dt.datetime, market: str = "usdm"
) -> AggTradeRow:
    """One element of REST ``GET /fapi/v1/aggTrades`` (backfill; it has no event time).

    {"a":26129,"p":"0.01633102","q":"4.70443515","nq":"4.70443515","f":27781,"l":27781,
     "T":1498793709153,"m":true}
    """
    return AggTradeRow(
        ms_time(d["T"]),
        symbol,
        market,
        int(d["a"]),
        float(d["p"]),
        float(d["q"]),
        _opt_float(d.get("nq")),
        int(d["f"]),
        int(d["l"]),
        _bool(d["m"], "m"),
        None,
        received_at,
        _extra(d, _REST_AGG_TRADE_KEYS),
    )


_DEPTH_KEYS = frozenset(["e", "E", "T", "s", "U", "u", "pu", "b", "a", "st", "ps"])


def depth_update(d: Payload, received_at: dt.datetime, market: str = "usdm") -> DepthUpdateRow:
    """``<symbol>@depth[@100ms|@500ms]`` diff (spot has no ``T`` and no ``pu``).

    {"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,
     "b":[["0.0024","10"]],"a":[["0.0026","100"]]}
    """
    if d["e"] != "depthUpdate":
        raise ValueError(f"not a depthUpdate: {d['e']!r}")
    bid_prices, bid_qtys = _levels(d["b"])
    ask_prices, ask_qtys = _levels(d["a"])
    pu = d.get("pu")
    return DepthUpdateRow(
        ms_time(d["E"]),
        d["s"],
        market,
        ms_time(d["T"]) if "T" in d else None,
        int(d["U"]),
        int(d["u"]),
        None if pu is None else int(pu),
        bid_prices,
        bid_qtys,
        ask_prices,
        ask_qtys,
        received_at,
        _extra(d, _DEPTH_KEYS),
    )


_SNAPSHOT_KEYS = frozenset(["lastUpdateId", "E", "T", "bids", "asks"])


def depth_snapshot(
    d: Payload, symbol: str, reason: str, received_at: dt.datetime, market: str = "usdm"
) -> DepthSnapshotRow:
    """REST ``GET /fapi/v1/depth?limit=1000``.

    {"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,
     "bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}
    """
    bid_prices, bid_qtys = _levels(d["bids"])
    ask_prices, ask_qtys = _levels(d["asks"])
    return DepthSnapshotRow(
        received_at,
        symbol,
        market,
        int(d["lastUpdateId"]),
        ms_time(d["E"]) if "E" in d else None,
        ms_time(d["T"]) if "T" in d else None,
        reason,
        bid_prices,
        bid_qtys,
        ask_prices,
        ask_qtys,
        received_at,
        _extra(d, _SNAPSHOT_KEYS),
    )


_MARK_KEYS = frozenset(["e", "E", "s", "p", "i", "P", "r", "T", "ap", "st"])


def mark_price(d: Payload, received_at: dt.datetime) -> MarkPriceRow:
    """``<symbol>@markPrice[@1s]`` and each element of ``!markPrice@arr[@1s]``.

    {"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",
     "i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}
    """
    if d["e"] != "markPriceUpdate":
        raise ValueError(f"not a markPriceUpdate: {d['e']!r}")
    next_funding = d.get("T")
    return MarkPriceRow(
        ms_time(d["E"]),
        d["s"],
        float(d["p"]),
        _opt_float(d.get("i")),
        _opt_float(d.get("P")),
        _opt_float(d.get("r")),
        ms_time(next_funding) if next_funding else None,
        _opt_float(d.get("ap")),
        received_at,
        _extra(d, _MARK_KEYS),
    )


_FORCE_KEYS = frozenset(["e", "E", "o", "ps", "st"])
_FORCE_ORDER_KEYS = frozenset(["s", "S", "o", "f", "q", "p", "ap", "X", "l", "z", "T"])


def force_order(d: Payload, received_at: dt.datetime) -> ForceOrderRow:
    """``<symbol>@forceOrder`` / ``!forceOrder@arr`` (sampled: <= 1 per symbol per second).

    {"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",
     "q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}
    """
    if d["e"] != "forceOrder":
        raise ValueError(f"not a forceOrder: {d['e']!r}")
    o = d["o"]
    outer, inner = _extra(d, _FORCE_KEYS), _extra(o, _FORCE_ORDER_KEYS)
    extra = outer
    if inner is not None:
        merged = orjson.loads(outer) if outer else {}
        merged["o"] = orjson.loads(inner)
        extra = orjson.dumps(merged).decode()
    return ForceOrderRow(
        ms_time(d["E"]),
        o["s"],
        str(o["S"]),
        str(o["o"]),
        str(o["f"]),
        float(o["q"]),
        float(o["p"]),
        float(o["ap"]),
        str(o["X"]),
        float(o["l"]),
        float(o["z"]),
        ms_time(o["T"]),
        received_at,
        extra,
    )


_OI_KEYS = frozenset(["openInterest", "symbol", "time"])


def open_interest(d: Payload, received_at: dt.datetime) -> OpenInterestRow:
    """REST ``GET /fapi/v1/openInterest``.

    {"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}
    """
    return OpenInterestRow(
        ms_time(d["time"]),
        d["symbol"],
        float(d["openInterest"]),
        received_at,
        _extra(d, _OI_KEYS),
    )


def is_usdm(d: Payload) -> bool:
    """All-market streams carry COIN-M symbols since mid-2026; ``st`` = 1 marks USD-M."""
    st = d.get("st")
    return st is None or st == 1 or st == "1"
