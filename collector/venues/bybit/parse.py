"""Bybit v5 linear payloads -> rows. The only place that reads Bybit's raw dicts.

WebSocket frames are either an op reply (``{"success", "ret_msg", "op", ...}``: acks and pongs,
see ``op_reply``) or a topic message (``{"topic", "type", "ts", "data", ...}``). REST answers come
in an envelope (``rest_result``). As for Binance, a malformed payload raises
``ValueError``/``KeyError``/``TypeError`` for the caller to count and skip, values are checked at
this edge (``collector.values``: finite, positive prices, plausible times) and unknown keys go to
``extra``.

Liquidation side, one meaning across venues: **the side of the liquidation order**, as Binance's
``forceOrder`` reports it — ``SELL`` closes a long (a long was liquidated), ``BUY`` closes a
short. Bybit's ``allLiquidation`` names the *position* instead (``S = "Buy"``: a long was
liquidated), so Bybit ``Buy`` becomes ``SELL`` and ``Sell`` becomes ``BUY``. Existing Binance rows
and views keep their meaning.

Trade side: Bybit's ``S`` is the taker's side; ``is_buyer_maker`` is true when the taker sold,
which is what Binance's ``m`` says, so delta and CVD read both venues the same way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NamedTuple

import orjson

from collector.rows import InstrumentRow
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
from collector.venues.bybit.rows import (
    MARKET,
    BookRow,
    LiquidationRow,
    OpenInterestPoint,
    TickerRow,
    TradeRow,
)

LIQUIDATION_SIDE = {"Buy": "SELL", "Sell": "BUY"}  # Bybit's position side -> the order's side


class OpReply(NamedTuple):
    """An answer to one of our ops: a subscribe/unsubscribe ack or a pong."""

    op: str
    success: bool
    ret_msg: str
    req_id: str | None
    conn_id: str | None

    @property
    def pong(self) -> bool:
        return self.op in ("ping", "pong") and self.success


class BybitApiError(Exception):
    """A REST answer whose envelope says ``retCode`` != 0."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"Bybit retCode {code}: {msg}")
        self.code = code
        self.msg = msg


def decode(raw: str | bytes) -> Payload:
    payload = orjson.loads(raw)
    if not isinstance(payload, dict):
        raise TypeError(f"a Bybit frame is a JSON object, got {type(payload).__name__}")
    return payload


def op_reply(d: Payload) -> OpReply | None:
    """The op reply this frame is, or None for a topic message.

    {"success":true,"ret_msg":"","conn_id":"d5ph…","req_id":"1","op":"subscribe"}
    {"success":true,"ret_msg":"pong","conn_id":"d5ph…","req_id":"","op":"ping"}
    """
    if "topic" in d or "op" not in d:
        return None
    req_id = d.get("req_id")
    return OpReply(
        str(d["op"]),
        d.get("success") is True,
        str(d.get("ret_msg", "")),
        None if req_id is None else str(req_id),
        d.get("conn_id"),
    )


def topic_parts(topic: str) -> tuple[str, int | None, str]:
    """``orderbook.50.BTCUSDT`` -> ("orderbook", 50, "BTCUSDT"); ``publicTrade.BTCUSDT`` ->
    ("publicTrade", None, "BTCUSDT")."""
    kind, _, rest = topic.partition(".")
    if kind == "orderbook":
        depth, _, symbol = rest.partition(".")
        return kind, check_id(int(depth), "depth"), check_symbol(symbol)
    return kind, None, check_symbol(rest)


def _ms(value: Any, received_at: dt.datetime) -> dt.datetime:
    """REST times are decimal strings of milliseconds; WebSocket ones are numbers."""
    if type(value) is str and value.isdigit():
        value = int(value)
    return ms_time(value, received_at)


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str or len(value) != 36:
        raise ValueError(f"trade id must be a UUID string, got {value!r}")
    return uuid.UUID(value)


def _seq(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return check_id(int(value) if type(value) is str and value.isdigit() else value, "seq")


# ---- trades -------------------------------------------------------------------------------------

_TRADE_KEYS = frozenset(["T", "s", "S", "v", "p", "L", "i", "BT", "RPI", "seq"])


def _side_is_sell(value: Any) -> bool:
    if value not in ("Buy", "Sell"):
        raise ValueError(f"side must be Buy or Sell, got {value!r}")
    return value == "Sell"


def _trade(
    t: Payload, event_time: dt.datetime | None, received_at: dt.datetime, extra: str | None
) -> TradeRow:
    """One trade in the WebSocket's keys (REST entries are renamed to them first)."""
    rpi, direction = t.get("RPI"), t.get("L")
    return TradeRow(
        _ms(t["T"], received_at),
        check_symbol(t["s"]),
        MARKET,
        _uuid(t["i"]),
        check_price(t["p"], "p"),
        check_size(t["v"], "v"),
        _side_is_sell(t["S"]),
        _seq(t.get("seq")),
        None if direction is None else str(direction),
        check_bool(t.get("BT", False), "BT"),
        None if rpi is None else check_bool(rpi, "RPI"),
        event_time,
        received_at,
        extra,
    )


def trades(d: Payload, received_at: dt.datetime) -> list[TradeRow]:
    """``publicTrade.{symbol}``: up to 1,024 trades a message.

    {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[
     {"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick",
      "i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"RPI":false,"seq":1783284617}]}
    """
    event_time = ms_time(d["ts"], received_at)
    return [_trade(t, event_time, received_at, extra_json(t, _TRADE_KEYS)) for t in d["data"]]


# REST recent-trade's keys -> the WebSocket's
_REST_TRADE_NAMES = {
    "execId": "i",
    "symbol": "s",
    "price": "p",
    "size": "v",
    "side": "S",
    "time": "T",
    "isBlockTrade": "BT",
    "isRPITrade": "RPI",
    "seq": "seq",
}


def rest_trades(result: Payload, received_at: dt.datetime) -> list[TradeRow]:
    """REST ``/v5/market/recent-trade`` (the last <= 1,000 trades), oldest first.

    {"category":"linear","list":[{"execId":"2100…","symbol":"BTCUSDT","price":"16618.49",
     "size":"0.00012","side":"Buy","time":"1672052955758","isBlockTrade":false,
     "isRPITrade":false,"seq":"1783284617"}]}
    """
    rows = []
    for t in result["list"]:
        renamed = {name: t[key] for key, name in _REST_TRADE_NAMES.items() if key in t}
        extra = extra_json(t, frozenset(_REST_TRADE_NAMES))
        rows.append(_trade(renamed, None, received_at, extra))
    # Bybit lists the newest first; trades of one taker order share time and seq, so reverse
    # (keeping their order) before the stable sort that guards against any other order
    rows.reverse()
    rows.sort(key=lambda r: (r.time, r.seq or 0))
    return rows


# ---- order book ---------------------------------------------------------------------------------

_BOOK_KEYS = frozenset(["topic", "type", "ts", "data", "cts"])
_BOOK_DATA_KEYS = frozenset(["s", "b", "a", "u", "seq"])


def _book_row(
    data: Payload,
    depth: int,
    snapshot: bool,
    times: tuple[Any, Any],
    received_at: dt.datetime,
    extra: str | None,
) -> BookRow:
    """``data`` holds s, b, a, u, seq; ``times`` is (ts, cts)."""
    bid_prices, bid_qtys = book_levels(data["b"])
    ask_prices, ask_qtys = book_levels(data["a"])
    ts, cts = times
    return BookRow(
        ms_time(ts, received_at),
        check_symbol(data["s"]),
        MARKET,
        depth,
        snapshot,
        check_id(data["u"], "u"),
        _seq(data.get("seq")),
        ms_time(cts, received_at) if cts else None,
        bid_prices,
        bid_qtys,
        ask_prices,
        ask_qtys,
        received_at,
        extra,
    )


def book(d: Payload, received_at: dt.datetime) -> BookRow:
    """``orderbook.{depth}.{symbol}``: a snapshot, or a delta of the top ``depth`` levels.

    {"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT",
     "b":[["30247.20","30.028"],["30245.40","0"]],"a":[["30248.70","0"]],"u":177400507,
     "seq":66544703342},"cts":1687940967464}
    """
    kind = d["type"]
    if kind not in ("snapshot", "delta"):
        raise ValueError(f"orderbook type must be snapshot or delta, got {kind!r}")
    _, depth, symbol = topic_parts(d["topic"])
    data = d["data"]
    if data["s"] != symbol:
        raise ValueError(f"topic {d['topic']} carries symbol {data['s']!r}")
    outer, inner = extra_json(d, _BOOK_KEYS), extra_json(data, _BOOK_DATA_KEYS)
    extra = outer
    if inner is not None:
        merged = orjson.loads(outer) if outer else {}
        merged["data"] = orjson.loads(inner)
        extra = orjson.dumps(merged).decode()
    times = (d["ts"], d.get("cts"))
    return _book_row(data, depth or 0, kind == "snapshot", times, received_at, extra)


_REST_BOOK_KEYS = frozenset(["s", "b", "a", "ts", "u", "seq", "cts"])


def rest_book(result: Payload, received_at: dt.datetime, depth: int = 0) -> BookRow:
    """REST ``/v5/market/orderbook`` as a snapshot row (for checks: no delta chains onto it).

    {"s":"BTCUSDT","b":[["62710.2","5.52"]],"a":[["62710.3","0.01"]],"ts":1709199771584,
     "u":243781,"seq":3887177875,"cts":1709199771579}
    """
    times = (result["ts"], result.get("cts"))
    extra = extra_json(result, _REST_BOOK_KEYS)
    return _book_row(result, depth, True, times, received_at, extra)


# ---- liquidations -------------------------------------------------------------------------------

_LIQUIDATION_KEYS = frozenset(["T", "s", "S", "v", "p"])


def liquidations(d: Payload, received_at: dt.datetime) -> list[LiquidationRow]:
    """``allLiquidation.{symbol}``: every liquidation, pushed each 500 ms. ``S`` is normalised
    to the order's side (see the module docstring).

    {"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[
     {"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}
    """
    event_time = ms_time(d["ts"], received_at)
    rows = []
    for x in d["data"]:
        side = LIQUIDATION_SIDE.get(x["S"])
        if side is None:
            raise ValueError(f"liquidation side must be Buy or Sell, got {x['S']!r}")
        rows.append(
            LiquidationRow(
                ms_time(x["T"], received_at),
                check_symbol(x["s"]),
                MARKET,
                side,
                check_size(x["v"], "v"),
                check_price(x["p"], "p"),
                event_time,
                received_at,
                extra_json(x, _LIQUIDATION_KEYS),
            )
        )
    return rows


# ---- tickers ------------------------------------------------------------------------------------

_TICKER_FIELDS = (
    "lastPrice",
    "markPrice",
    "indexPrice",
    "fundingRate",
    "nextFundingTime",
    "openInterest",
    "openInterestValue",
    "bid1Price",
    "bid1Size",
    "ask1Price",
    "ask1Size",
    "turnover24h",
    "volume24h",
)
_TICKER_KEYS = frozenset(["symbol", *_TICKER_FIELDS])


def _ticker_row(
    state: Payload, time: dt.datetime, cross_seq: int | None, received_at: dt.datetime
) -> TickerRow:
    def number(key: str, check: Any = check_size) -> float | None:
        return optional(state.get(key), key, check)

    funding = state.get("nextFundingTime")
    return TickerRow(
        time,
        check_symbol(state["symbol"]),
        MARKET,
        cross_seq,
        number("lastPrice", check_price),
        number("markPrice", check_price),
        number("indexPrice", check_price),
        optional(state.get("fundingRate"), "fundingRate"),
        _ms(funding, received_at + MAX_AHEAD) if funding not in (None, "", "0") else None,
        number("openInterest"),
        number("openInterestValue"),
        number("bid1Price", check_price),
        number("bid1Size"),
        number("ask1Price", check_price),
        number("ask1Size"),
        number("turnover24h"),
        number("volume24h"),
        received_at,
        extra_json(state, _TICKER_KEYS),
    )


class Tickers:
    """Per-symbol ticker state: Bybit's deltas leave out the fields that did not change, so a
    row is the kept state with the delta merged in."""

    def __init__(self) -> None:
        self.state: dict[str, Payload] = {}

    def update(self, d: Payload, received_at: dt.datetime) -> TickerRow:
        """``tickers.{symbol}``: a snapshot replaces the state, a delta is merged into it.

        {"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT",
         "lastPrice":"17216.00","markPrice":"17217.33","indexPrice":"17227.36",
         "openInterest":"68744.761","fundingRate":"-0.000212",…},"cs":24987956059,
         "ts":1673272861686}
        """
        _, _, symbol = topic_parts(d["topic"])
        data = d["data"]
        if data.get("symbol", symbol) != symbol:
            raise ValueError(f"topic {d['topic']} carries symbol {data.get('symbol')!r}")
        if d["type"] == "snapshot":
            merged = {"symbol": symbol, **data}
        elif d["type"] == "delta":
            kept = self.state.get(symbol)
            if kept is None:
                raise ValueError(f"tickers delta for {symbol} before its snapshot")
            merged = {**kept, **data}
        else:
            raise ValueError(f"tickers type must be snapshot or delta, got {d['type']!r}")
        row = _ticker_row(merged, ms_time(d["ts"], received_at), _seq(d.get("cs")), received_at)
        self.state[symbol] = merged  # only once the merged state proved valid
        return row

    def forget(self, symbol: str) -> None:
        """A new subscription starts with a snapshot: drop what an old one left."""
        self.state.pop(symbol, None)


def rest_tickers(body_time: int, result: Payload, received_at: dt.datetime) -> list[TickerRow]:
    """REST ``/v5/market/tickers?category=linear`` (e.g. 24 h turnover to rank a top-N).
    ``body_time`` is the envelope's ``time``: the entries carry none of their own."""
    time = ms_time(body_time, received_at)
    return [_ticker_row(t, time, None, received_at) for t in result["list"]]


# ---- REST: envelope, instruments, open interest -------------------------------------------------


def rest_result(body: Any) -> Payload:
    """The ``result`` of a REST answer, or ``BybitApiError`` when ``retCode`` says it failed.

    {"retCode":0,"retMsg":"OK","result":{…},"retExtInfo":{},"time":1672376496682}
    """
    if not isinstance(body, dict):
        raise TypeError(f"a Bybit REST answer is a JSON object, got {type(body).__name__}")
    code = body["retCode"]
    if code != 0:
        raise BybitApiError(int(code), str(body.get("retMsg", "")))
    result = body["result"]
    if not isinstance(result, dict):
        raise TypeError("Bybit REST result is not an object")
    return result


def page(result: Payload) -> tuple[list[Payload], str]:
    """A paged REST result's entries and the cursor of the next page ("" after the last)."""
    entries = result["list"]
    if not isinstance(entries, list):
        raise TypeError("Bybit REST list is not an array")
    return entries, str(result.get("nextPageCursor") or "")


def instrument(d: Payload) -> InstrumentRow:
    """One entry of ``/v5/market/instruments-info?category=linear``.

    {"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC",
     "quoteCoin":"USDT","priceFilter":{"minPrice":"0.10","maxPrice":"199999.80",
     "tickSize":"0.10"},"lotSizeFilter":{"minOrderQty":"0.001","qtyStep":"0.001",
     "minNotionalValue":"5",…},…}
    """
    lot = d["lotSizeFilter"]
    return InstrumentRow(
        MARKET,
        check_symbol(d["symbol"]),
        str(d["status"]),
        d.get("baseCoin"),
        d.get("quoteCoin"),
        d.get("contractType"),
        check_price(d["priceFilter"]["tickSize"], "tickSize"),
        check_price(lot["qtyStep"], "qtyStep"),
        optional(lot.get("minOrderQty"), "minOrderQty", check_size),
        optional(lot.get("minNotionalValue"), "minNotionalValue", check_size),
    )


def open_interest(result: Payload, received_at: dt.datetime) -> list[OpenInterestPoint]:
    """REST ``/v5/market/open-interest`` (historical per ``intervalTime``), oldest first.

    {"symbol":"BTCUSDT","category":"linear","list":[{"openInterest":"461134384.00000000",
     "timestamp":"1669571400000"}],"nextPageCursor":""}
    """
    symbol = check_symbol(result["symbol"])
    points = [
        OpenInterestPoint(
            _ms(x["timestamp"], received_at),
            symbol,
            check_size(x["openInterest"], "openInterest"),
            received_at,
        )
        for x in result["list"]
    ]
    points.sort(key=lambda p: p.time)
    return points
