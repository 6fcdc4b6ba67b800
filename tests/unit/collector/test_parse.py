"""Parsers over Binance's documented example payloads (USD-M futures API docs)."""

import datetime as dt
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.venues.binance import parse

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def ms(n: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=n)


def test_agg_trade_documented_example():
    d = orjson.loads(
        b'{"e":"aggTrade","E":1700123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100",'
        b'"f":100,"l":105,"T":1700123456785,"m":true}'
    )
    row = parse.agg_trade(d, NOW)
    assert row == (
        ms(1700123456785),
        "BTCUSDT",
        "usdm",
        5933014,
        0.001,
        100.0,
        None,
        100,
        105,
        True,
        ms(1700123456789),
        NOW,
        None,
    )


def test_agg_trade_new_fields_are_typed_or_kept_in_extra():
    d = orjson.loads(
        b'{"e":"aggTrade","E":1700000000000,"s":"BTCUSDT","a":1,"p":"1","q":"2","nq":"1.5","f":1,"l":1,'
        b'"T":1700000000000,"m":false,"st":1,"zz":"new"}'
    )
    row = parse.agg_trade(d, NOW)
    assert row.normal_qty == 1.5
    assert orjson.loads(row.extra) == {"zz": "new"}


def test_depth_update_documented_example():
    d = orjson.loads(
        b'{"e":"depthUpdate","E":1700123456789,"T":1700123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,'
        b'"b":[["0.0024","10"]],"a":[["0.0026","100"]]}'
    )
    row = parse.depth_update(d, NOW)
    assert (row.first_update_id, row.final_update_id, row.prev_final_update_id) == (157, 160, 149)
    assert (row.bid_prices, row.bid_qtys, row.ask_prices, row.ask_qtys) == (
        [0.0024],
        [10.0],
        [0.0026],
        [100.0],
    )
    assert row.time == ms(1700123456789) and row.transaction_time == ms(1700123456788)
    assert row.extra is None


def test_spot_depth_update_has_no_pu():
    d = orjson.loads(
        b'{"e":"depthUpdate","E":1700000000000,"s":"BNBBTC","U":157,"u":160,"b":[],"a":[]}'
    )
    row = parse.depth_update(d, NOW, "spot")
    assert row.prev_final_update_id is None and row.transaction_time is None


def test_mark_price_documented_example():
    d = orjson.loads(
        b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",'
        b'"i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}'
    )
    row = parse.mark_price(d, NOW)
    assert row[:8] == (
        ms(1562305380000),
        "BTCUSDT",
        11794.15,
        11784.62659091,
        11784.25641265,
        0.00038167,
        ms(1562306400000),
        None,
    )


def test_force_order_documented_example_and_nested_unknown_keys():
    d = orjson.loads(
        b'{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT",'
        b'"f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014",'
        b'"T":1568014460893,"new":1},"st":1}'
    )
    row = parse.force_order(d, NOW)
    assert row[:12] == (
        ms(1568014460893),
        "BTCUSDT",
        "SELL",
        "LIMIT",
        "IOC",
        0.014,
        9910.0,
        9910.0,
        "FILLED",
        0.014,
        0.014,
        ms(1568014460893),
    )
    assert orjson.loads(row.extra) == {"o": {"new": 1}}


def test_rest_payloads():
    snap = parse.depth_snapshot(
        orjson.loads(
            b'{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,'
            b'"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}'
        ),
        "BTCUSDT",
        "start",
        NOW,
    )
    assert snap.last_update_id == 1027024 and snap.bid_prices == [4.0] and snap.ask_qtys == [12.0]
    oi = parse.open_interest(
        orjson.loads(b'{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'), NOW
    )
    assert oi[:3] == (ms(1589437530011), "BTCUSDT", 10659.509)
    trade = parse.rest_agg_trade(
        orjson.loads(
            b'{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,'
            b'"T":1498793709153,"m":true}'
        ),
        "BTCUSDT",
        NOW,
    )
    assert trade.agg_trade_id == 26129 and trade.event_time is None


@pytest.mark.parametrize(
    "payload",
    [
        {
            "e": "aggTrade",
            "E": 1700000000000,
            "s": "X",
            "a": 1,
            "p": "abc",
            "q": "1",
            "f": 1,
            "l": 1,
            "T": 1700000000000,
            "m": True,
        },
        {
            "e": "aggTrade",
            "E": 1700000000000,
            "s": "X",
            "a": 1,
            "p": "1",
            "q": "1",
            "f": 1,
            "l": 1,
            "T": "1",
            "m": True,
        },
        {
            "e": "aggTrade",
            "E": 1700000000000,
            "s": "X",
            "a": 1,
            "p": "1",
            "q": "1",
            "f": 1,
            "l": 1,
            "T": 1700000000000,
            "m": "true",
        },
        {"e": "aggTrade", "E": 1700000000000, "s": "X"},
    ],
)
def test_wrong_types_raise_instead_of_storing_garbage(payload):
    with pytest.raises((ValueError, TypeError, KeyError)):
        parse.agg_trade(payload, NOW)


# Binance sends prices and quantities as decimal strings with at most 8 places and well under
# 10^7 in size, so at most 15 significant digits: the most a double always gives back exactly.
decimals = st.decimals(
    min_value=Decimal("0.00000001"),
    max_value=Decimal("9999999.99999999"),
    places=8,
    allow_nan=False,
    allow_infinity=False,
)


@given(decimals)
def test_binance_decimals_round_trip_through_double_precision(value):
    text = f"{value:f}"
    assert Decimal(repr(float(text))) == Decimal(text)


def test_usdm_filter_for_merged_all_market_streams():
    assert parse.is_usdm({"st": 1}) and parse.is_usdm({}) and not parse.is_usdm({"st": 2})


_FUTURES_INSTRUMENT = {  # an entry of GET /fapi/v1/exchangeInfo, as Binance documents it
    "symbol": "BLZUSDT", "pair": "BLZUSDT", "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000, "onboardDate": 1598252400000, "status": "TRADING",
    "baseAsset": "BLZ", "quoteAsset": "USDT", "marginAsset": "USDT",
    "pricePrecision": 5, "quantityPrecision": 0,
    "filters": [
        {"filterType": "PRICE_FILTER", "maxPrice": "300", "minPrice": "0.0001",
         "tickSize": "0.0001"},
        {"filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": "590119", "minQty": "1", "stepSize": "1"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "5.0"},
    ],
}  # fmt: skip
_SPOT_INSTRUMENT = {  # an entry of GET /api/v3/exchangeInfo
    "symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "quoteAsset": "BTC",
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "922327.00000000",
         "tickSize": "0.00000100"},
        {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "100000.00000000",
         "stepSize": "0.00010000"},
        {"filterType": "NOTIONAL", "minNotional": "0.00010000", "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
    ],
}  # fmt: skip


def test_instrument_from_futures_and_spot_exchange_info():
    futures = parse.instrument(_FUTURES_INSTRUMENT, "usdm")
    assert futures == (
        "usdm", "BLZUSDT", "TRADING", "BLZ", "USDT", "PERPETUAL", 0.0001, 1.0, 1.0, 5.0
    )  # fmt: skip
    spot = parse.instrument(_SPOT_INSTRUMENT, "spot")
    assert spot == ("spot", "ETHBTC", "TRADING", "ETH", "BTC", None, 1e-6, 1e-4, 1e-4, 1e-4)


def test_instrument_without_a_usable_filter_is_refused():
    no_lot = {**_FUTURES_INSTRUMENT, "filters": _FUTURES_INSTRUMENT["filters"][:1]}
    with pytest.raises(KeyError):
        parse.instrument(no_lot, "usdm")
    nan_tick = {**_FUTURES_INSTRUMENT, "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "NaN"}, *_FUTURES_INSTRUMENT["filters"][1:]
    ]}  # fmt: skip
    with pytest.raises(ValueError):
        parse.instrument(nan_tick, "usdm")
