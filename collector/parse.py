"""Binance USD-M (and spot) payloads -> rows. The only place that indexes raw exchange dicts.

Every parser takes the decoded payload (the ``data`` of a combined-stream frame) and the local
receive time, and raises ``ValueError``/``KeyError``/``TypeError`` on a malformed payload; the
caller counts and logs those, it never crashes on them. Keys we do not know are kept, as JSON
text, in the row's ``extra`` (Binance adds fields over time: ``nq``, ``st``, ``ps`` in 2026).

Validation happens here, at the edge, so nothing downstream meets a poisoned value: times lie
between Binance's launch and a day past the local clock, prices are finite and positive,
quantities finite and not negative (``float`` alone accepts "NaN", "inf" and "1e999"), ids are
integers in bigint range. Whether an id is plausible for its symbol's sequence is decided by the
caller, which knows the sequence (``collector.sequence``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import orjson

from collector.rows import (
    AggTradeRow,
    DepthSnapshotRow,
    DepthUpdateRow,
    ForceOrderRow,
    InstrumentRow,
    MarkPriceRow,
    OpenInterestRow,
)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)

Payload = dict[str, Any]

EARLIEST_MS = 1_483_228_800_000  # 2017-01-01: nothing Binance sends is older
MAX_AHEAD = dt.timedelta(days=1)  # how far past the local clock an exchange time may lie
MAX_ID = 2**63 - 1  # ids are stored as bigint


def ms_time(ms: int, now: dt.datetime | None = None) -> dt.datetime:
    """Binance millisecond epoch -> aware UTC datetime, exactly (no float rounding); refused
    before 2017 or (given the receive time ``now``) more than ``MAX_AHEAD`` past it."""
    if type(ms) is not int:
        raise TypeError(f"expected integer milliseconds, got {ms!r}")
    if ms < EARLIEST_MS or ms > 253_402_300_799_000:  # datetime ends at 9999-12-31
        raise ValueError(f"time {ms} ms is out of range")
    t = EPOCH + ms * _MS
    if now is not None and t > now + MAX_AHEAD:
        raise ValueError(f"time {ms} ms is more than {MAX_AHEAD} ahead of the local clock")
    return t


def _id(value: Any, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError(f"{name} must be an integer id, got {value!r}")
    return value


_INF = math.inf


def _number(value: Any, name: str) -> float:
    if type(value) is bool:
        raise TypeError(f"{name} must be a decimal, got {value!r}")
    number = float(value)
    if not -_INF < number < _INF:  # False for NaN too
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _price(value: Any, name: str) -> float:
    number = float(value) if type(value) is not bool else -1.0
    if not 0.0 < number < _INF:  # False for NaN too
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def _size(value: Any, name: str) -> float:
    number = float(value) if type(value) is not bool else -1.0
    if not 0.0 <= number < _INF:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def _extra(payload: Payload, known: frozenset[str]) -> str | None:
    unknown = payload.keys() - known
    if not unknown:
        return None
    return orjson.dumps({k: payload[k] for k in sorted(unknown)}).decode()


def _bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{name} must be a boolean, got {value!r}")
    return value


def _opt(value: Any, name: str, check: Any = _number) -> float | None:
    return None if value is None or value == "" else check(value, name)


def _levels(levels: list[list[str]]) -> tuple[list[float], list[float]]:
    prices = [float(p) for p, _ in levels]
    qtys = [float(q) for _, q in levels]
    # checked in bulk, in C (per-level checks doubled the cost of a depth frame): a NaN or an
    # infinity makes the sum non-finite; then the smallest price and quantity decide the sign
    if prices and not (
        math.isfinite(sum(prices) + sum(qtys)) and min(prices) > 0.0 and min(qtys) >= 0.0
    ):
        raise ValueError(f"level prices must be positive and quantities >= 0, finite: {levels!r}")
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
        ms_time(d["T"], received_at),
        _symbol(d["s"]),
        market,
        _id(d["a"], "a"),
        _price(d["p"], "p"),
        _size(d["q"], "q"),
        _opt(d.get("nq"), "nq", _size),
        _id(d["f"], "f"),
        _id(d["l"], "l"),
        _bool(d["m"], "m"),
        ms_time(d["E"], received_at),
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
        ms_time(d["T"], received_at),
        symbol,
        market,
        _id(d["a"], "a"),
        _price(d["p"], "p"),
        _size(d["q"], "q"),
        _opt(d.get("nq"), "nq", _size),
        _id(d["f"], "f"),
        _id(d["l"], "l"),
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
        ms_time(d["E"], received_at),
        _symbol(d["s"]),
        market,
        ms_time(d["T"], received_at) if "T" in d else None,
        _id(d["U"], "U"),
        _id(d["u"], "u"),
        None if pu is None else _pu(pu),
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
        _id(d["lastUpdateId"], "lastUpdateId"),
        ms_time(d["E"], received_at) if "E" in d else None,
        ms_time(d["T"], received_at) if "T" in d else None,
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
        ms_time(d["E"], received_at),
        _symbol(d["s"]),
        _price(d["p"], "p"),
        _opt(d.get("i"), "i", _price),
        _opt(d.get("P"), "P", _price),
        _opt(d.get("r"), "r"),
        ms_time(next_funding, received_at + MAX_AHEAD) if next_funding else None,
        _opt(d.get("ap"), "ap", _price),
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
        ms_time(d["E"], received_at),
        _symbol(o["s"]),
        str(o["S"]),
        str(o["o"]),
        str(o["f"]),
        _size(o["q"], "q"),
        _price(o["p"], "p"),
        _size(o["ap"], "ap"),
        str(o["X"]),
        _size(o["l"], "l"),
        _size(o["z"], "z"),
        ms_time(o["T"], received_at),
        received_at,
        extra,
    )


_OI_KEYS = frozenset(["openInterest", "symbol", "time"])


def open_interest(d: Payload, received_at: dt.datetime) -> OpenInterestRow:
    """REST ``GET /fapi/v1/openInterest``.

    {"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}
    """
    return OpenInterestRow(
        ms_time(d["time"], received_at),
        _symbol(d["symbol"]),
        _size(d["openInterest"], "openInterest"),
        received_at,
        _extra(d, _OI_KEYS),
    )


def instrument(d: Payload, market: str) -> InstrumentRow:
    """One entry of ``symbols`` in REST ``GET /fapi/v1/exchangeInfo`` (or spot's
    ``/api/v3/exchangeInfo``: no contractType, its minimum value in the NOTIONAL filter).

    {"symbol":"BTCUSDT","status":"TRADING","contractType":"PERPETUAL","baseAsset":"BTC",
     "quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.10",...},
     {"filterType":"LOT_SIZE","stepSize":"0.001","minQty":"0.001",...},
     {"filterType":"MIN_NOTIONAL","notional":"100"},...],...}
    """
    filters = {f["filterType"]: f for f in d["filters"]}
    lot, notional = filters["LOT_SIZE"], filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL")
    minimum = None
    if notional is not None:
        minimum = _opt(notional.get("notional", notional.get("minNotional")), "notional", _size)
    return InstrumentRow(
        market,
        _symbol(d["symbol"]),
        str(d["status"]),
        d.get("baseAsset"),
        d.get("quoteAsset"),
        d.get("contractType"),
        _price(filters["PRICE_FILTER"]["tickSize"], "tickSize"),
        _price(lot["stepSize"], "stepSize"),
        _opt(lot.get("minQty"), "minQty", _size),
        minimum,
    )


def _symbol(value: Any) -> str:
    if type(value) is not str or not value:
        raise TypeError(f"symbol must be a string, got {value!r}")
    return value


def _pu(value: Any) -> int:
    """``pu`` is -1 on the first diff after a futures stream restarts."""
    if value == -1:
        return -1
    return _id(value, "pu")


def is_usdm(d: Payload) -> bool:
    """All-market streams carry COIN-M symbols since mid-2026; ``st`` = 1 marks USD-M."""
    st = d.get("st")
    return st is None or st == 1 or st == "1"
