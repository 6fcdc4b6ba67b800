"""Binance USD-M (and spot) payloads -> rows. The only place that indexes raw Binance dicts.

Every parser takes the decoded payload (the ``data`` of a combined-stream frame) and the local
receive time, and raises ``ValueError``/``KeyError``/``TypeError`` on a malformed payload; the
caller counts and logs those, it never crashes on them. Keys we do not know are kept, as JSON
text, in the row's ``extra`` (Binance adds fields over time: ``nq``, ``st``, ``ps`` in 2026).

Validation happens here, at the edge (``collector.values``), so nothing downstream meets a
poisoned value. Whether an id is plausible for its symbol's sequence is decided by the caller,
which knows the sequence (``collector.venues.binance.sequence``).
"""

from __future__ import annotations

import datetime as dt
import logging
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
from collector.values import (
    MAX_AHEAD,
    Payload,
    book_levels,
    check_bool,
    check_id,
    check_price,
    check_size,
    check_symbol,
    extra_json,
    ms_time,
    optional,
)
from markets import USDM
from symbols import is_symbol

log = logging.getLogger(__name__)

_AGG_TRADE_KEYS = frozenset(["e", "E", "s", "a", "p", "q", "nq", "f", "l", "T", "m", "st"])


def agg_trade(d: Payload, received_at: dt.datetime, market: str = USDM) -> AggTradeRow:
    """``<symbol>@aggTrade``.

    {"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100",
     "nq":"100","f":100,"l":105,"T":123456785,"m":true}
    Spot adds ``M`` (ignore: "was the trade the best price match"), kept in ``extra``.
    """
    if d["e"] != "aggTrade":
        raise ValueError(f"not an aggTrade: {d['e']!r}")
    return AggTradeRow(
        ms_time(d["T"], received_at),
        check_symbol(d["s"]),
        market,
        check_id(d["a"], "a"),
        check_price(d["p"], "p"),
        check_size(d["q"], "q"),
        optional(d.get("nq"), "nq", check_size),
        check_id(d["f"], "f"),
        check_id(d["l"], "l"),
        check_bool(d["m"], "m"),
        ms_time(d["E"], received_at),
        received_at,
        extra_json(d, _AGG_TRADE_KEYS),
    )


_REST_AGG_TRADE_KEYS = frozenset(["a", "p", "q", "nq", "f", "l", "T", "m"])


def rest_agg_trade(
    d: Payload, symbol: str, received_at: dt.datetime, market: str = USDM
) -> AggTradeRow:
    """One element of REST ``GET /fapi/v1/aggTrades`` (backfill; it has no event time).

    {"a":26129,"p":"0.01633102","q":"4.70443515","nq":"4.70443515","f":27781,"l":27781,
     "T":1498793709153,"m":true}
    """
    return AggTradeRow(
        ms_time(d["T"], received_at),
        symbol,
        market,
        check_id(d["a"], "a"),
        check_price(d["p"], "p"),
        check_size(d["q"], "q"),
        optional(d.get("nq"), "nq", check_size),
        check_id(d["f"], "f"),
        check_id(d["l"], "l"),
        check_bool(d["m"], "m"),
        None,
        received_at,
        extra_json(d, _REST_AGG_TRADE_KEYS),
    )


_DEPTH_KEYS = frozenset(["e", "E", "T", "s", "U", "u", "pu", "b", "a", "st", "ps"])


def depth_update(d: Payload, received_at: dt.datetime, market: str = USDM) -> DepthUpdateRow:
    """``<symbol>@depth[@100ms|@500ms]`` diff (spot has no ``T`` and no ``pu``).

    {"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,
     "b":[["0.0024","10"]],"a":[["0.0026","100"]]}
    """
    if d["e"] != "depthUpdate":
        raise ValueError(f"not a depthUpdate: {d['e']!r}")
    bid_prices, bid_qtys = book_levels(d["b"])
    ask_prices, ask_qtys = book_levels(d["a"])
    pu = d.get("pu")
    return DepthUpdateRow(
        ms_time(d["E"], received_at),
        check_symbol(d["s"]),
        market,
        ms_time(d["T"], received_at) if "T" in d else None,
        check_id(d["U"], "U"),
        check_id(d["u"], "u"),
        None if pu is None else _pu(pu),
        bid_prices,
        bid_qtys,
        ask_prices,
        ask_qtys,
        received_at,
        extra_json(d, _DEPTH_KEYS),
    )


_SNAPSHOT_KEYS = frozenset(["lastUpdateId", "E", "T", "bids", "asks"])


def depth_snapshot(
    d: Payload, symbol: str, reason: str, received_at: dt.datetime, market: str = USDM
) -> DepthSnapshotRow:
    """REST ``GET /fapi/v1/depth?limit=1000``.

    {"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,
     "bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}
    """
    bid_prices, bid_qtys = book_levels(d["bids"])
    ask_prices, ask_qtys = book_levels(d["asks"])
    return DepthSnapshotRow(
        received_at,
        symbol,
        market,
        check_id(d["lastUpdateId"], "lastUpdateId"),
        ms_time(d["E"], received_at) if "E" in d else None,
        ms_time(d["T"], received_at) if "T" in d else None,
        reason,
        bid_prices,
        bid_qtys,
        ask_prices,
        ask_qtys,
        received_at,
        extra_json(d, _SNAPSHOT_KEYS),
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
        check_symbol(d["s"]),
        check_price(d["p"], "p"),
        optional(d.get("i"), "i", check_price),
        optional(d.get("P"), "P", check_price),
        optional(d.get("r"), "r"),
        ms_time(next_funding, received_at + MAX_AHEAD) if next_funding else None,
        optional(d.get("ap"), "ap", check_price),
        received_at,
        extra_json(d, _MARK_KEYS),
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
    outer, inner = extra_json(d, _FORCE_KEYS), extra_json(o, _FORCE_ORDER_KEYS)
    extra = outer
    if inner is not None:
        merged = orjson.loads(outer) if outer else {}
        merged["o"] = orjson.loads(inner)
        extra = orjson.dumps(merged).decode()
    return ForceOrderRow(
        ms_time(d["E"], received_at),
        check_symbol(o["s"]),
        str(o["S"]),
        str(o["o"]),
        str(o["f"]),
        check_size(o["q"], "q"),
        check_price(o["p"], "p"),
        check_size(o["ap"], "ap"),
        str(o["X"]),
        check_size(o["l"], "l"),
        check_size(o["z"], "z"),
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
        check_symbol(d["symbol"]),
        check_size(d["openInterest"], "openInterest"),
        received_at,
        extra_json(d, _OI_KEYS),
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
        minimum = optional(
            notional.get("notional", notional.get("minNotional")), "notional", check_size
        )
    return InstrumentRow(
        market,
        check_symbol(d["symbol"]),
        str(d["status"]),
        d.get("baseAsset"),
        d.get("quoteAsset"),
        d.get("contractType"),
        check_price(filters["PRICE_FILTER"]["tickSize"], "tickSize"),
        check_price(lot["stepSize"], "stepSize"),
        optional(lot.get("minQty"), "minQty", check_size),
        minimum,
    )


def _pu(value: Any) -> int:
    """``pu`` is -1 on the first diff after a futures stream restarts."""
    if value == -1:
        return -1
    return check_id(value, "pu")


def is_usdm(d: Payload) -> bool:
    """All-market streams carry COIN-M symbols since mid-2026; ``st`` = 1 marks USD-M."""
    st = d.get("st")
    return st is None or st == 1 or st == "1"


def trading_symbols(info: Payload) -> set[str]:
    """The symbols an ``exchangeInfo`` answer (futures or spot) lists as trading now."""
    return {s["symbol"] for s in info["symbols"] if s.get("status") == "TRADING"}


def usdt_perpetuals(info: Payload) -> list[str]:
    """The trading USDT perpetuals of a futures ``exchangeInfo`` answer, in its order."""
    return [
        s["symbol"]
        for s in info["symbols"]
        if s.get("contractType") == "PERPETUAL"
        and s.get("quoteAsset") == "USDT"
        and s.get("status") == "TRADING"
    ]


def by_quote_volume(tickers: list[Payload], eligible: set[str], n: int) -> list[str]:
    """The ``n`` eligible symbols of a ``ticker/24hr`` answer with the highest quote volume."""
    ranked = sorted(
        (t for t in tickers if t["symbol"] in eligible),
        key=lambda t: float(t["quoteVolume"]),
        reverse=True,
    )
    return [t["symbol"] for t in ranked[:n]]


def instruments(info: Payload, market: str) -> list[InstrumentRow]:
    """The well-formed instruments of an exchangeInfo answer; a malformed entry is logged."""
    rows = []
    for entry in info["symbols"]:
        try:
            row = instrument(entry, market)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("exchangeInfo (%s): skipped a malformed instrument: %.200r", market, exc)
            continue
        if is_symbol(row.symbol):  # a hostile name is dropped (and counted) by the universe
            rows.append(row)
    return rows


# Why a frame carries no payload (frame_payloads): a reply is normal, the others are counted
REPLY = "reply"
SHUTDOWN = "shutdown"
NOT_AN_OBJECT = "not_an_object"
UNKNOWN_FRAME = "unknown_frame"


def frame_payloads(msg: Any) -> list[Any] | str:
    """The payloads of a decoded frame (combined-stream envelope, raw event, or all-market array),
    or why it has none: ``REPLY`` (to a SUBSCRIBE / LIST_SUBSCRIPTIONS), ``SHUTDOWN`` (the server
    will close this connection), ``NOT_AN_OBJECT``, ``UNKNOWN_FRAME``."""
    if type(msg) is not dict:
        return msg if type(msg) is list else NOT_AN_OBJECT  # list: raw /ws all-market array
    data = msg.get("data", msg)
    if data is msg and "e" not in msg:
        return REPLY if "result" in msg or "error" in msg or "code" in msg else UNKNOWN_FRAME
    if type(data) is list:
        return data
    if type(data) is dict and data.get("e") == "serverShutdown":
        return SHUTDOWN
    return [data]


def event_type(d: Any) -> str:
    """A payload's event type (``e``); ``KeyError``/``TypeError`` when it has none."""
    return d["e"]
