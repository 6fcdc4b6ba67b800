"""Stream names → kind, route and parameters (the 2026 /public vs /market split)."""

from __future__ import annotations

import pytest

from sim.streams import MARKET, PUBLIC, depth_name, parse_stream


@pytest.mark.parametrize(
    ("name", "kind", "route", "speed", "levels"),
    [
        ("btcusdt@depth", "depth", PUBLIC, 250, 0),
        ("btcusdt@depth@100ms", "depth", PUBLIC, 100, 0),
        ("btcusdt@depth@500ms", "depth", PUBLIC, 500, 0),
        ("btcusdt@depth5", "partialDepth", PUBLIC, 250, 5),
        ("btcusdt@depth20@100ms", "partialDepth", PUBLIC, 100, 20),
        ("btcusdt@bookTicker", "bookTicker", PUBLIC, 0, 0),
        ("btcusdt@aggTrade", "aggTrade", MARKET, 0, 0),
        ("btcusdt@markPrice", "markPrice", MARKET, 3000, 0),
        ("btcusdt@markPrice@1s", "markPrice", MARKET, 1000, 0),
        ("!markPrice@arr", "markPriceAll", MARKET, 3000, 0),
        ("!markPrice@arr@1s", "markPriceAll", MARKET, 1000, 0),
        ("btcusdt@forceOrder", "forceOrder", MARKET, 0, 0),
        ("!forceOrder@arr", "forceOrderAll", MARKET, 0, 0),
        ("btcusdt@kline_1m", "kline", MARKET, 0, 0),
    ],
)
def test_stream_routes(name: str, kind: str, route: str, speed: int, levels: int) -> None:
    spec = parse_stream(name)
    assert spec is not None
    assert (spec.kind, spec.route, spec.speed, spec.levels) == (kind, route, speed, levels)


@pytest.mark.parametrize(
    "name", ["btcusdt@depth@250ms", "btcusdt@depth7", "btcusdt@kline_2s", "garbage", "@aggTrade"]
)
def test_unknown_streams_parse_to_none(name: str) -> None:
    assert parse_stream(name) is None


def test_depth_names_round_trip() -> None:
    assert depth_name("BTCUSDT", 250) == "btcusdt@depth"
    assert depth_name("BTCUSDT", 100, 10) == "btcusdt@depth10@100ms"
    for speed in (100, 250, 500):
        spec = parse_stream(depth_name("ETHUSDT", speed))
        assert spec is not None and spec.speed == speed and spec.symbol == "ETHUSDT"
