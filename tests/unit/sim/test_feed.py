"""The market and its feed without sockets: determinism, depth chaining, truth, payload shapes."""

from __future__ import annotations

import hashlib
from itertools import pairwise

import orjson
import pytest

from sim.faults import Faults
from sim.feed import Feed
from sim.hub import Hub
from sim.script import Episode, Script
from sim.truth import Truth
from tests.unit.sim import binance_examples as ex

EPOCH = 1_790_000_000_000


def make_feed(seed: int = 1, script: Script | None = None, rate: float = 300.0) -> Feed:
    faults = Faults()
    hub = Hub(faults)
    hub.tap = []  # serialise every stream, as if everything were subscribed
    feed = Feed(
        ["BTCUSDT", "ETHUSDT"],
        seed=seed,
        rate=rate,
        start_ms=EPOCH,
        step_ms=50,
        script=script or Script(),
        hub=hub,
        faults=faults,
        truth=Truth(),
    )
    feed.track_kline("1m")
    return feed


def run(feed: Feed, seconds: float) -> list[tuple[str, bytes]]:
    for _ in range(int(seconds * 1000 / feed.step_ms)):
        feed.step()
    assert feed.hub.tap is not None
    return feed.hub.tap


def digest(frames: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, raw in frames:
        h.update(name.encode() + b"\0" + raw + b"\n")
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    script = Script([Episode("panic_selloff", 2, 4), Episode("absorption", 6, 3)])
    a = run(make_feed(1, script), 10)
    b = run(make_feed(1, script), 10)
    c = run(make_feed(2, script), 10)
    assert len(a) > 1000
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_depth_events_chain_pu_to_previous_u_on_every_speed() -> None:
    feed = make_feed()
    run(feed, 5)
    assert feed.truth is not None
    for speed in (100, 250, 500):
        events = feed.truth.depth_events["BTCUSDT", speed]
        assert len(events) >= 5000 / speed * 0.9
        for prev, event in pairwise(events):
            assert event["pu"] == prev["u"]
            assert prev["u"] < event["U"] <= event["u"]
            assert event["E"] - prev["E"] >= speed and event["E"] % speed == 0


def test_diffs_applied_to_the_initial_book_give_the_truth_book() -> None:
    feed = make_feed()
    truth = feed.truth
    assert truth is not None
    start = feed.feeds["BTCUSDT"].depth[0].prev_final
    run(feed, 3)
    book = truth.book_at("BTCUSDT", start)
    bids = {p: q for p, q in book["bids"]}
    asks = {p: q for p, q in book["asks"]}
    for event in truth.depth_events["BTCUSDT", 100]:
        for levels, updates in ((bids, event["b"]), (asks, event["a"])):
            for price, qty in updates:
                if float(qty) == 0:
                    levels.pop(price, None)
                else:
                    levels[price] = qty
        expected = truth.book_at("BTCUSDT", event["u"])
        assert bids == dict(map(tuple, expected["bids"]))
        assert asks == dict(map(tuple, expected["asks"]))
    final = truth.book_at("BTCUSDT", feed.feeds["BTCUSDT"].market.update_id)
    snapshot = feed.depth_snapshot("BTCUSDT", 1000)
    assert final["bids"] == snapshot["bids"] and final["asks"] == snapshot["asks"]


def test_agg_trades_have_consecutive_ids_and_match_the_book_moves() -> None:
    feed = make_feed()
    run(feed, 5)
    assert feed.truth is not None
    trades = feed.truth.agg_trades["BTCUSDT"]
    assert len(trades) > 50
    ids = [t["a"] for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    for prev, trade in pairwise(trades):
        assert trade["f"] == prev["l"] + 1
        assert trade["l"] >= trade["f"]
        assert trade["T"] >= prev["T"]


def test_payloads_match_binance_examples_key_for_key() -> None:
    feed = make_feed(script=Script([Episode("panic_selloff", 0, 20)]))
    frames = run(feed, 65)  # past a minute, so a kline closes
    examples = {
        "btcusdt@aggTrade": ex.AGG_TRADE,
        "btcusdt@depth": ex.DEPTH_UPDATE,
        "btcusdt@depth@100ms": ex.DEPTH_UPDATE,
        "btcusdt@depth@500ms": ex.DEPTH_UPDATE,
        "btcusdt@depth5": ex.DEPTH_UPDATE,
        "btcusdt@depth20@100ms": ex.DEPTH_UPDATE,
        "btcusdt@bookTicker": ex.BOOK_TICKER,
        "btcusdt@markPrice": ex.MARK_PRICE,
        "btcusdt@markPrice@1s": ex.MARK_PRICE,
        "!markPrice@arr": [ex.MARK_PRICE],
        "btcusdt@forceOrder": ex.FORCE_ORDER,
        "!forceOrder@arr": ex.FORCE_ORDER,
        "btcusdt@kline_1m": ex.KLINE,
    }
    seen: dict[str, int] = {}
    for name, raw in frames:
        if name in examples:
            assert ex.same_shape(orjson.loads(raw), examples[name]) == [], name
            seen[name] = seen.get(name, 0) + 1
    assert set(seen) == set(examples)
    closed = [orjson.loads(r) for n, r in frames if n == "btcusdt@kline_1m"]
    assert any(k["k"]["x"] for k in closed)


def test_partial_depth_carries_the_top_levels_best_first() -> None:
    feed = make_feed()
    frames = run(feed, 2)
    partial = [orjson.loads(r) for n, r in frames if n == "ethusdt@depth10@100ms"]
    assert partial
    last = partial[-1]
    assert len(last["b"]) == 10 and len(last["a"]) == 10
    assert [float(p) for p, _ in last["b"]] == sorted(
        (float(p) for p, _ in last["b"]), reverse=True
    )
    assert float(last["b"][0][0]) < float(last["a"][0][0])


def test_liquidations_are_sampled_one_per_symbol_per_second() -> None:
    feed = make_feed(script=Script([Episode("panic_selloff", 0, 20, "BTCUSDT")]))
    frames = run(feed, 20)
    assert feed.truth is not None
    all_orders = feed.truth.force_orders["BTCUSDT"]
    sent = [orjson.loads(r) for n, r in frames if n == "btcusdt@forceOrder"]
    assert len(all_orders) > len(sent) > 5
    assert sum(not o["sampled_out"] for o in all_orders) == len(sent)
    seconds = [o["E"] // 1000 for o in sent]
    assert len(seconds) == len(set(seconds))
    assert all(o["o"]["S"] in ("SELL", "BUY") for o in sent)


def test_panic_selloff_drops_price_and_open_interest_then_exhausts() -> None:
    feed = make_feed(script=Script([Episode("panic_selloff", 5, 30, "BTCUSDT")]))
    market = feed.feeds["BTCUSDT"].market
    run(feed, 5)
    price0, oi0 = market.mid_price(), market.open_interest
    run(feed, 15)
    assert market.mid_price() < price0
    assert market.open_interest < oi0
    assert feed.truth is not None
    orders = feed.truth.force_orders["BTCUSDT"]
    early = sum(1 for o in orders if o["o"]["T"] < EPOCH + 20_000)
    late = sum(1 for o in orders if o["o"]["T"] >= EPOCH + 20_000)
    run(feed, 15)
    late = sum(1 for o in feed.truth.force_orders["BTCUSDT"] if o["o"]["T"] >= EPOCH + 20_000)
    assert early > late  # the cascade exhausts


def test_absorption_wall_holds_the_price() -> None:
    feed = make_feed(script=Script([Episode("absorption", 2, 20, "BTCUSDT")]))
    market = feed.feeds["BTCUSDT"].market
    run(feed, 3)
    wall_tick = next(iter(market._walls.values()))
    sells = 0
    run(feed, 15)
    assert feed.truth is not None
    for trade in feed.truth.agg_trades["BTCUSDT"]:
        sells += trade["m"]
    assert sells > len(feed.truth.agg_trades["BTCUSDT"]) * 0.7
    assert market.book.best_bid() >= wall_tick  # type: ignore[operator]
    assert market.book.qty("b", wall_tick) > 0


def test_wall_episode_appears_then_erodes() -> None:
    feed = make_feed(script=Script([Episode("wall", 1, 10, "ETHUSDT", {"side": "ask"})]))
    market = feed.feeds["ETHUSDT"].market
    run(feed, 1.5)
    (tick,) = market._walls.values()
    big = market.book.qty("a", tick)
    assert big >= 30 * market.typical
    run(feed, 8)
    assert market.book.qty("a", tick) < big / 3


@pytest.mark.parametrize("kind", ["trend", "breakout"])
def test_directional_episodes_move_the_price_up(kind: str) -> None:
    feed = make_feed(script=Script([Episode(kind, 0, 30, "BTCUSDT", {"direction": "up"})]))
    market = feed.feeds["BTCUSDT"].market
    start = market.mid_price()
    run(feed, 30)
    assert market.mid_price() > start
