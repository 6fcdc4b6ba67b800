"""Spot: parsers over Binance's documented spot payload examples (binance-spot-api-docs,
web-socket-streams.md and rest-api.md), spot's book rule, streams, URLs and REST weights."""

import datetime as dt

import orjson

from collector.rows import DepthSnapshotRow, DepthUpdateRow
from collector.venues.binance import parse, streams
from collector.venues.binance.book import BookSync
from collector.venues.binance.rest import spot_depth_weight

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def ms(n: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=n)


# Binance's examples, byte for byte (spot docs)
SPOT_AGG_TRADE = (
    b'{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100",'
    b'"f":100,"l":105,"T":1672515782136,"m":true,"M":true}'
)
SPOT_DEPTH_UPDATE = (
    b'{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,'
    b'"b":[["0.0024","10"]],"a":[["0.0026","100"]]}'
)
SPOT_REST_AGG_TRADE = (
    b'{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,'
    b'"m":true,"M":true}'
)
SPOT_REST_DEPTH = (
    b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],'
    b'"asks":[["4.00000200","12.00000000"]]}'
)


def test_spot_agg_trade_documented_example():
    row = parse.agg_trade(orjson.loads(SPOT_AGG_TRADE), NOW, "spot")
    assert row.market == "spot" and row.symbol == "BNBBTC"
    assert (row.agg_trade_id, row.price, row.qty) == (12345, 0.001, 100.0)
    assert (row.first_trade_id, row.last_trade_id, row.is_buyer_maker) == (100, 105, True)
    assert row.time == row.event_time == ms(1672515782136) and row.received_at == NOW
    assert row.normal_qty is None  # spot has no nq
    assert orjson.loads(row.extra) == {"M": True}  # "ignore", but every field is kept


def test_spot_depth_update_documented_example():
    row = parse.depth_update(orjson.loads(SPOT_DEPTH_UPDATE), NOW, "spot")
    assert row.market == "spot" and row.time == ms(1672515782136)
    assert (row.first_update_id, row.final_update_id) == (157, 160)
    assert row.prev_final_update_id is None and row.transaction_time is None
    assert (row.bid_prices, row.bid_qtys, row.ask_prices, row.ask_qtys) == (
        [0.0024],
        [10.0],
        [0.0026],
        [100.0],
    )
    assert row.extra is None


def test_spot_rest_payloads_documented_examples():
    trade = parse.rest_agg_trade(orjson.loads(SPOT_REST_AGG_TRADE), "BNBBTC", NOW, "spot")
    assert (trade.market, trade.agg_trade_id, trade.price, trade.qty) == (
        "spot",
        26129,
        0.01633102,
        4.70443515,
    )
    assert trade.event_time is None and orjson.loads(trade.extra) == {"M": True}
    snap = parse.depth_snapshot(orjson.loads(SPOT_REST_DEPTH), "BNBBTC", "start", NOW, "spot")
    assert (snap.market, snap.last_update_id, snap.event_time) == ("spot", 1027024, None)
    assert (snap.bid_prices, snap.ask_qtys) == ([4.0], [12.0])


def _diff(first: int, final: int, bid: float = 1.0) -> DepthUpdateRow:
    return DepthUpdateRow(
        NOW, "BNBBTC", "spot", None, first, final, None, [bid], [1.0], [], [], NOW, None
    )


def _snap(last: int) -> DepthSnapshotRow:
    return DepthSnapshotRow(
        NOW, "BNBBTC", "spot", last, None, None, "start", [1.0], [5.0], [2.0], [5.0], NOW, None
    )


def test_spot_book_drops_diffs_up_to_the_snapshot_and_bridges_at_last_plus_one():
    sync = BookSync("BNBBTC", "spot")
    for first, final in ((90, 95), (96, 100), (101, 104)):
        sync.on_diff(_diff(first, final, bid=float(final)))
    # u == lastUpdateId is already in the snapshot (futures would apply it; spot must not)
    assert sync.on_snapshot(_snap(100))
    assert sync.book.last_update_id == 104 and 100.0 not in sync.book.bids
    assert sync.on_diff(_diff(105, 107)) is None and sync.valid


def test_spot_snapshot_older_than_the_buffer_asks_for_another():
    sync = BookSync("BNBBTC", "spot")
    sync.on_diff(_diff(120, 125))
    assert not sync.on_snapshot(_snap(100))  # U=120 > lastUpdateId + 1: refetch
    assert sync.on_snapshot(_snap(121)) and sync.book.last_update_id == 125


def test_spot_streams_and_urls():
    spot = streams.spot_streams(["BTCUSDT"], "100ms")
    assert [(s.name, s.route) for s in spot] == [
        ("btcusdt@aggTrade", "spot"),
        ("btcusdt@depth@100ms", "spot"),
    ]
    assert streams.spot_streams(["BTCUSDT"], "1000ms")[1].name == "btcusdt@depth"
    url = streams.combined_url("wss://stream.binance.com:9443", "spot", [s.name for s in spot])
    assert (
        url == "wss://stream.binance.com:9443/stream?streams=btcusdt@aggTrade/btcusdt@depth@100ms"
    )
    futures = streams.combined_url("wss://fstream.binance.com", "market", ["btcusdt@aggTrade"])
    assert futures == "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade"
    groups = streams.group(spot + streams.futures_streams(["BTCUSDT"], "100ms"))
    assert [g[0].route for g in groups] == ["public", "market", "spot"]


def test_spot_depth_weights():
    assert [spot_depth_weight(n) for n in (5, 100, 101, 500, 1000, 5000)] == [5, 5, 25, 25, 50, 250]
