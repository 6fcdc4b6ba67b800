"""Bybit's book sync rule: snapshots reset, deltas chain by u + 1, u == 1 is a restart, anything
else is a gap — by hand and over the simulator's own frames."""

from __future__ import annotations

import datetime as dt

from collector.venues.bybit import parse
from collector.venues.bybit.book import BybitBook, Gap, Outcome
from collector.venues.bybit.rows import BookRow
from tests.bybit_frames import (
    EPOCH_MS,
    at,
    bybit_market,
    published,
    snapshot,
    step,
)

T = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def row(u: int, snap: bool = False, bids=(), asks=()) -> BookRow:
    return BookRow(
        T,
        "BTCUSDT",
        "linear",
        50,
        snap,
        u,
        None,
        None,
        [p for p, _ in bids],
        [q for _, q in bids],
        [p for p, _ in asks],
        [q for _, q in asks],
        T,
        None,
    )


def test_snapshot_then_chained_deltas_apply_and_zero_deletes():
    book = BybitBook()
    assert book.on_message(row(7, bids=[(1.0, 2.0)])) is Outcome.WAITING
    assert book.on_message(row(10, True, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 3.0)])) is (
        Outcome.SNAPSHOT
    )
    assert book.on_message(row(11, bids=[(100.0, 0.0), (98.0, 5.0)])) is Outcome.APPLIED
    assert book.on_message(row(12, asks=[(101.5, 1.0)])) is Outcome.APPLIED
    assert book.top(5) == ([99.0, 98.0], [2.0, 5.0], [101.0, 101.5], [3.0, 1.0])
    assert book.update_id == 12 and book.synced


def test_a_delta_before_any_snapshot_waits():
    book = BybitBook()
    assert book.on_message(row(5, bids=[(1.0, 1.0)])) is Outcome.WAITING
    assert book.bids == {} and not book.synced


def test_a_jump_or_a_step_back_in_u_is_a_gap_until_the_next_snapshot():
    for bad_u in (13, 11, 1):  # a skipped delta, a step back, a restart without its snapshot
        book = BybitBook()
        book.on_message(row(10, True, [(100.0, 1.0)]))
        book.on_message(row(11))
        assert book.on_message(row(bad_u, bids=[(100.0, 9.0)])) is Outcome.GAP
        assert book.gap == Gap(11, bad_u) and not book.synced
        assert book.bids == {100.0: 1.0}  # the breaking delta was not applied
        assert book.on_message(row(bad_u + 1)) is Outcome.WAITING
        assert book.on_message(row(40, True, [(90.0, 1.0)])) is Outcome.SNAPSHOT
        assert book.synced and book.gap is None and book.bids == {90.0: 1.0}


def test_a_snapshot_with_u_one_is_a_reset_not_a_gap():
    book = BybitBook()
    book.on_message(row(500, True, [(100.0, 1.0)]))
    assert book.on_message(row(1, True, [(95.0, 4.0)])) is Outcome.RESET
    assert book.on_message(row(2, asks=[(96.0, 1.0)])) is Outcome.APPLIED
    assert book.bids == {95.0: 4.0} and book.asks == {96.0: 1.0} and book.gap is None


def test_simulated_stream_with_a_gap_and_a_restart_rebuilds_the_truth():
    bybit = bybit_market()
    received = at(EPOCH_MS + 60_000)
    topic = "orderbook.50.BTCUSDT"
    book = BybitBook()
    assert book.on_message(parse.book(snapshot(bybit, topic), received)) is Outcome.SNAPSHOT
    step(bybit, 1000)
    bybit.skip_deltas("BTCUSDT", 1, depth=50)
    step(bybit, 500)
    bybit.restart("BTCUSDT", depth=50)
    step(bybit, 1000)
    outcomes = [book.on_message(parse.book(m, received)) for m in published(bybit, topic)]
    assert outcomes.count(Outcome.GAP) == 1 and outcomes.count(Outcome.RESET) == 1
    assert outcomes.index(Outcome.GAP) < outcomes.index(Outcome.RESET)
    assert set(outcomes[outcomes.index(Outcome.RESET) + 1 :]) == {Outcome.APPLIED}
    assert book.synced
    truth = bybit.truth
    assert truth is not None and book.seq is not None
    full = truth.book_at("BTCUSDT", book.seq)  # the full book when the last delta was cut
    bid_px, bid_qty, ask_px, ask_qty = book.top(50)
    assert list(zip(bid_px, bid_qty, strict=True)) == [
        (float(p), float(q)) for p, q in full["bids"][:50]
    ]
    assert list(zip(ask_px, ask_qty, strict=True)) == [
        (float(p), float(q)) for p, q in full["asks"][:50]
    ]
    assert len(book.bids) <= 50 and len(book.asks) <= 50
