"""The typed fast path (wire.decode) gives exactly parse's row for a well-formed aggTrade or depth
frame, and None for anything parse would reject, keep extras of, or not see as one of the two."""

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.venues.binance import parse, wire

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
T = 1_795_000_000_000

TRADE = {"e": "aggTrade", "E": T + 1, "s": "BTCUSDT", "a": 5933014, "p": "65000.10",
         "q": "0.012", "nq": "0.012", "f": 100, "l": 105, "T": T, "m": True, "st": 1}  # fmt: skip
DEPTH = {"e": "depthUpdate", "E": T, "T": T - 1, "s": "BTCUSDT", "U": 157, "u": 160, "pu": 149,
         "b": [["64999.90", "1.5"], ["64999.80", "0"]], "a": [["65000.10", "0.3"]],
         "ps": "BTCUSDT", "st": 1}  # fmt: skip


def frame(data: object, stream: str = "btcusdt@aggTrade") -> bytes:
    return orjson.dumps({"stream": stream, "data": data})


def parsed(data: dict, market: str = "usdm") -> tuple:
    if data["e"] == "aggTrade":
        return parse.agg_trade(data, NOW, market)
    return parse.depth_update(data, NOW, market)


@pytest.mark.parametrize("data", [TRADE, DEPTH, {**TRADE, "nq": None}, {**DEPTH, "pu": -1},
                                  {**DEPTH, "b": [], "a": []}])  # fmt: skip
def test_a_well_formed_frame_gives_parses_row(data):
    assert wire.decode(frame(data), NOW, "usdm") == parsed(data)


def test_spot_depth_without_transaction_time_or_pu():
    spot = {k: v for k, v in DEPTH.items() if k not in ("T", "pu", "ps", "st")}
    assert wire.decode(frame(spot), NOW, "spot") == parsed(spot, "spot")


@given(
    agg_id=st.integers(0, 2**63 - 1),
    price=st.decimals(min_value="0.00000001", max_value="1000000", places=8),
    qty=st.decimals(min_value=0, max_value="1000000", places=3),
    t=st.integers(1_483_228_800_000, T),
    maker=st.booleans(),
)
def test_any_valid_trade_reads_the_same_both_ways(agg_id, price, qty, t, maker):
    data = {**TRADE, "a": agg_id, "p": str(price), "q": str(qty), "T": t, "E": t, "m": maker}
    assert wire.decode(frame(data), NOW, "usdm") == parsed(data)


@pytest.mark.parametrize(
    "data",
    [
        {**TRADE, "p": "NaN"},
        {**TRADE, "p": "inf"},
        {**TRADE, "q": "1e999"},
        {**TRADE, "nq": "Infinity"},
        {**TRADE, "nq": ""},  # parse reads it as absent
        {**TRADE, "p": "0"},
        {**TRADE, "q": "-1"},
        {**TRADE, "a": 2**63},
        {**TRADE, "a": 1.5},
        {**TRADE, "T": 1_000_000_000_000_000},
        {**TRADE, "T": int((NOW + dt.timedelta(days=2)).timestamp() * 1000)},
        {**TRADE, "s": ""},
        {**TRADE, "M": True},  # spot's extra key: kept in `extra` by parse
        {**TRADE, "x": 1},  # a key Binance added since
        {**DEPTH, "b": [["NaN", "1"]]},
        {**DEPTH, "a": [["65000.1", "inf"]]},
        {**DEPTH, "a": [["0", "1"]]},
        {**DEPTH, "b": [["1", "2", "3"]]},
        {**DEPTH, "pu": -2},
        {"e": "markPriceUpdate", "E": T, "s": "BTCUSDT", "p": "1"},
    ],
)
def test_anything_else_is_left_to_parse(data):
    assert wire.decode(frame(data), NOW, "usdm") is None


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(TRADE),  # a raw /ws frame: no envelope
        frame([TRADE]),  # an all-market array
        b'{"result":null,"id":1}',
        frame(TRADE)[:-5],  # truncated
        b"",
    ],
)
def test_frames_of_other_shapes_are_left_to_parse(raw):
    assert wire.decode(raw, NOW, "usdm") is None
