"""Bybit topics and their spread over connections under the 21,000-character limit."""

from __future__ import annotations

import orjson
import pytest

from collector.venues.bybit import streams


def test_topics_of_a_symbol_and_the_linear_route():
    assert streams.topics("BTCUSDT", 50) == [
        "publicTrade.BTCUSDT",
        "orderbook.50.BTCUSDT",
        "allLiquidation.BTCUSDT",
        "tickers.BTCUSDT",
    ]
    assert streams.ws_url("ws://127.0.0.1:9/") == "ws://127.0.0.1:9/v5/public/linear"
    with pytest.raises(ValueError, match="depth"):
        streams.topics("BTCUSDT", 25)


def test_a_large_universe_is_cut_into_connections_within_the_limit():
    wanted = [t for i in range(400) for t in streams.topics(f"COIN{i:04d}USDT")]
    groups = streams.per_connection(wanted)
    assert len(groups) > 1
    assert [t for g in groups for t in g] == wanted  # every topic once, in order
    assert all(sum(map(len, g)) <= streams.MAX_ARGS_CHARS for g in groups)
    assert streams.per_connection([]) == []


def test_op_messages():
    assert orjson.loads(streams.op("ping")) == {"op": "ping"}
    assert orjson.loads(streams.op("subscribe", ["tickers.X"], "1")) == {
        "op": "subscribe",
        "req_id": "1",
        "args": ["tickers.X"],
    }
