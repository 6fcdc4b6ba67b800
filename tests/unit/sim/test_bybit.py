"""The simulator's Bybit side without sockets: deterministic per seed, tick directions, the top-N
cut that deltas are made of."""

from __future__ import annotations

import orjson

from sim.book import ASK, BID, OrderBook
from sim.bybit import BookTopic, crossed, tick_direction
from tests.bybit_frames import bybit_market, step


def test_the_same_seed_publishes_the_same_bytes_whoever_listens():
    runs = []
    for _ in range(2):
        bybit = bybit_market(("BTCUSDT", "ETHUSDT"))
        step(bybit, 2000)
        runs.append(bybit.hub.tap)
    assert runs[0] == runs[1] and len(runs[0]) > 100
    topics = {name for name, _ in runs[0]}
    assert {"publicTrade.BTCUSDT", "orderbook.50.ETHUSDT", "tickers.BTCUSDT"} <= topics
    # trade ids are UUIDs drawn per seed: the same run repeats them, no two trades share one
    ids = [t["i"] for name, raw in runs[0] if name.startswith("publicTrade")
           for t in orjson.loads(raw)["data"]]  # fmt: skip
    assert len(ids) == len(set(ids))


def test_tick_direction_keeps_the_sign_of_the_last_move():
    assert tick_direction(None, 10, "MinusTick") == "PlusTick"
    assert tick_direction(10, 11, "MinusTick") == "PlusTick"
    assert tick_direction(11, 11, "PlusTick") == "ZeroPlusTick"
    assert tick_direction(11, 11, "ZeroPlusTick") == "ZeroPlusTick"
    assert tick_direction(11, 10, "ZeroPlusTick") == "MinusTick"
    assert tick_direction(10, 10, "MinusTick") == "ZeroMinusTick"


def test_crossed_means_a_boundary_inside_the_step():
    assert crossed(950, 1000, 500) and not crossed(1000, 1050, 500) and crossed(80, 100, 20)


def test_a_cut_reports_changes_and_levels_leaving_the_top():
    book = OrderBook()
    for tick in range(90, 100):
        book.set(BID, tick, 1)
    for tick in range(100, 110):
        book.set(ASK, tick, 1)
    topic = BookTopic("BTCUSDT", 50, book, 7, 1)
    topic.depth = 3  # a 3-level topic over this small book
    topic.reload(book)
    book.set(BID, 99, 0)  # the best bid goes: 96 enters the top 3
    book.set(ASK, 101, 5)
    bids, asks = topic.cut(book)
    assert bids == [(99, 0), (96, 1)] and asks == [(101, 5)]
    assert topic.cut(book) == ([], [])  # nothing changed since
