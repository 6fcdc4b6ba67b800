"""Bybit's parser over Bybit's documented example payloads and over the simulator's frames."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import orjson
import pytest

from collector.venues.bybit import parse
from collector.venues.bybit.rows import TickerRow
from tests.bybit_frames import (
    EPOCH_MS,
    at,
    bybit_market,
    published,
    snapshot,
    step,
)

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def test_trades_documented_example():
    d = orjson.loads(
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{'
        b'"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick",'
        b'"i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"RPI":false,"seq":1783284617}]}'
    )
    (row,) = parse.trades(d, NOW)
    assert row == (
        at(1672304486865),
        "BTCUSDT",
        "linear",
        uuid.UUID("20f43950-d8dd-5b31-9112-a178eb6023af"),
        16578.5,
        0.001,
        False,  # the taker bought: the seller was the maker
        1783284617,
        "PlusTick",
        False,
        False,
        at(1672304486868),
        NOW,
        None,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("p", "NaN"), ("v", "-1"), ("i", "12345"), ("S", "buy"), ("T", 99), ("BT", "no")],
)
def test_trades_refuse_poisoned_values(field, value):
    trade = {
        "T": 1672304486865,
        "s": "BTCUSDT",
        "S": "Sell",
        "v": "0.001",
        "p": "16578.50",
        "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
        "BT": False,
    }
    trade[field] = value
    d = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868, "data": [trade]}
    with pytest.raises((ValueError, TypeError)):
        parse.trades(d, NOW)


def test_book_delta_documented_example_and_unknown_keys_kept():
    d = orjson.loads(
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{'
        b'"s":"BTCUSDT","b":[["30247.20","30.028"],["30245.40","0"]],"a":[["30248.70","0"]],'
        b'"u":177400507,"seq":66544703342,"xn":1},"cts":1687940967464}'
    )
    row = parse.book(d, NOW)
    assert (row.depth, row.snapshot, row.update_id, row.seq) == (50, False, 177400507, 66544703342)
    assert row.bid_prices == [30247.2, 30245.4] and row.bid_qtys == [30.028, 0.0]
    assert row.ask_prices == [30248.7] and row.ask_qtys == [0.0]
    assert row.matching_time == at(1687940967464) and row.time == at(1687940967466)
    assert orjson.loads(row.extra) == {"data": {"xn": 1}}


def test_book_refuses_a_symbol_other_than_its_topic():
    d = {
        "topic": "orderbook.50.BTCUSDT",
        "type": "delta",
        "ts": 1687940967466,
        "data": {"s": "ETHUSDT", "b": [], "a": [], "u": 2, "seq": 3},
    }
    with pytest.raises(ValueError, match="carries symbol"):
        parse.book(d, NOW)


def test_liquidation_side_becomes_the_order_side():
    d = orjson.loads(
        b'{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":['
        b'{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"},'
        b'{"T":1739502302930,"s":"ROSEUSDT","S":"Buy","v":"10","p":"0.04400"}]}'
    )
    short_closed, long_closed = parse.liquidations(d, NOW)
    # Bybit "Sell": a short was liquidated, closed by a BUY order (Binance's forceOrder side)
    assert short_closed.side == "BUY" and long_closed.side == "SELL"
    assert (short_closed.qty, short_closed.price) == (20000.0, 0.04499)
    assert short_closed.event_time == at(1739502303204)


def test_tickers_delta_is_merged_into_the_kept_state():
    tickers = parse.Tickers()
    snap = {
        "topic": "tickers.BTCUSDT",
        "type": "snapshot",
        "data": {
            "symbol": "BTCUSDT",
            "tickDirection": "PlusTick",
            "lastPrice": "17216.00",
            "markPrice": "17217.33",
            "indexPrice": "17227.36",
            "openInterest": "68744.761",
            "openInterestValue": "1183601235.91",
            "turnover24h": "1570383121.943499",
            "volume24h": "91705.276",
            "nextFundingTime": "1673280000000",
            "fundingRate": "-0.000212",
            "bid1Price": "17215.50",
            "bid1Size": "84.489",
            "ask1Price": "17216.00",
            "ask1Size": "83.020",
        },
        "cs": 24987956059,
        "ts": 1673272861686,
    }
    first = tickers.update(snap, NOW)
    delta = {
        "topic": "tickers.BTCUSDT",
        "type": "delta",
        "data": {"symbol": "BTCUSDT", "markPrice": "17218.41", "fundingRate": "-0.000200"},
        "cs": 24987956100,
        "ts": 1673272861786,
    }
    second = tickers.update(delta, NOW)
    assert (first.mark_price, second.mark_price) == (17217.33, 17218.41)
    assert second.funding_rate == -0.0002 and second.index_price == 17227.36  # kept
    assert second.next_funding_time == at(1673280000000) and second.cross_seq == 24987956100
    assert orjson.loads(second.extra) == {"tickDirection": "PlusTick"}


def test_tickers_delta_before_a_snapshot_is_refused_and_state_stays_clean():
    tickers = parse.Tickers()
    delta = {
        "topic": "tickers.BTCUSDT",
        "type": "delta",
        "data": {"symbol": "BTCUSDT", "markPrice": "1"},
        "cs": 1,
        "ts": 1673272861786,
    }
    with pytest.raises(ValueError, match="before its snapshot"):
        tickers.update(delta, NOW)
    bad = {**delta, "type": "snapshot", "data": {"symbol": "BTCUSDT", "markPrice": "inf"}}
    with pytest.raises(ValueError):
        tickers.update(bad, NOW)
    assert tickers.state == {}


def test_op_replies_and_topic_messages_are_told_apart():
    ack = parse.op_reply(
        parse.decode(b'{"success":true,"ret_msg":"","conn_id":"c","req_id":"7","op":"subscribe"}')
    )
    pong = parse.op_reply(
        parse.decode(b'{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}')
    )
    refused = parse.op_reply(
        {"success": False, "ret_msg": "error:handler not found,topic:x", "op": "subscribe"}
    )
    assert ack == ("subscribe", True, "", "7", "c") and not ack.pong
    assert pong is not None and pong.pong
    assert refused is not None and not refused.success
    assert parse.op_reply({"topic": "tickers.BTCUSDT", "type": "delta", "data": {}}) is None
    with pytest.raises(TypeError):
        parse.decode(b"[1]")


def test_rest_envelope_instruments_trades_and_open_interest():
    with pytest.raises(parse.BybitApiError) as refused:
        parse.rest_result({"retCode": 10001, "retMsg": "params error", "result": {}})
    assert refused.value.code == 10001
    result = parse.rest_result(
        {"retCode": 0, "retMsg": "OK", "result": {"list": []}, "retExtInfo": {}, "time": 1}
    )
    assert result == {"list": []}
    row = parse.instrument(
        {
            "symbol": "BTCUSDT",
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": "BTC",
            "quoteCoin": "USDT",
            "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"},
            "lotSizeFilter": {"minOrderQty": "0.001", "qtyStep": "0.001", "minNotionalValue": "5"},
        }
    )
    assert row == ("linear", "BTCUSDT", "Trading", "BTC", "USDT", "LinearPerpetual", 0.1, 0.001,
                   0.001, 5.0)  # fmt: skip
    newest_first = {
        "category": "linear",
        "list": [
            {
                "execId": str(uuid.UUID(int=i + 1, version=4)),
                "symbol": "BTCUSDT",
                "price": "16618.49",
                "size": "0.012",
                "side": side,
                "time": str(1672052955758 - i),
                "isBlockTrade": False,
                "isRPITrade": False,
                "seq": str(100 - i),
            }
            for i, side in enumerate(["Buy", "Sell"])
        ],
    }
    trades = parse.rest_trades(newest_first, NOW)
    assert [t.seq for t in trades] == [99, 100] and trades[0].is_buyer_maker
    assert trades[0].event_time is None and trades[0].tick_direction is None
    points = parse.open_interest(
        {
            "symbol": "BTCUSDT",
            "category": "linear",
            "list": [
                {"openInterest": "461134384.00000000", "timestamp": "1669571700000"},
                {"openInterest": "461134380.00000000", "timestamp": "1669571400000"},
            ],
            "nextPageCursor": "",
        },
        NOW,
    )
    assert [p.time for p in points] == [at(1669571400000), at(1669571700000)]


# ---- the simulator's frames ---------------------------------------------------------------------


def test_simulated_frames_parse_and_keep_every_field():
    bybit = bybit_market()
    received = at(EPOCH_MS + 10_000)
    tickers = parse.Tickers()
    first = tickers.update(snapshot(bybit, "tickers.BTCUSDT"), received)
    step(bybit, 3000)
    truth = bybit.truth
    assert truth is not None
    trades = [r for m in published(bybit, "publicTrade.BTCUSDT") for r in parse.trades(m, received)]
    assert [str(t.trade_id) for t in trades] == [t["i"] for t in truth.trades["BTCUSDT"]]
    assert all(t.extra is None for t in trades)
    assert [Decimal(str(t.price)) for t in trades] == [
        Decimal(t["p"]) for t in truth.trades["BTCUSDT"]
    ]
    liquidations = [
        r
        for m in published(bybit, "allLiquidation.BTCUSDT")
        for r in parse.liquidations(m, received)
    ]
    expected = [("SELL" if x["S"] == "Buy" else "BUY") for x in truth.liquidations["BTCUSDT"]]
    assert liquidations and [x.side for x in liquidations] == expected
    rows: list[TickerRow] = [first]
    rows += [tickers.update(m, received) for m in published(bybit, "tickers.BTCUSDT")]
    state = bybit.feeds["BTCUSDT"].ticker
    assert tickers.state["BTCUSDT"] == state
    assert rows[-1].mark_price == float(state["markPrice"])
    assert orjson.loads(rows[-1].extra) == {"tickDirection": state["tickDirection"]}
