"""strategy.venue.BybitSync replays stored Bybit rows by Bybit's rule, and keeps the same book as
the recorder's own rule (collector.venues.bybit.book.BybitBook) over the same messages: snapshots
replace the book (a u == 1 reset too), deltas chain by u + 1, a jump breaks the book until the
next snapshot."""

from __future__ import annotations

import datetime as dt

from collector.rows import DepthSnapshotRow, DepthUpdateRow
from collector.venues.bybit.book import BybitBook
from collector.venues.bybit.rows import BookRow
from strategy.venue import VENUES, BybitSync, book_sync

T = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
# (snapshot?, u, bids, asks): a start, two deltas, a jump (u 4 lost), a delta while broken, a
# resubscription's snapshot, a delta, a service restart (u == 1) and its delta
MESSAGES = [
    (True, 10, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.0), (102.0, 3.0)]),
    (False, 11, [(100.0, 1.5)], []),
    (False, 12, [(99.0, 0.0)], [(101.5, 0.4)]),
    (False, 14, [(98.0, 7.0)], []),
    (False, 15, [], [(101.0, 0.0)]),
    (True, 20, [(100.0, 2.0)], [(101.0, 2.0)]),
    (False, 21, [(99.5, 1.0)], []),
    (True, 1, [(90.0, 1.0)], [(91.0, 1.0)]),
    (False, 2, [], [(91.0, 0.5)]),
]


def levels(pairs: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    return [p for p, _ in pairs], [q for _, q in pairs]


def stored(snapshot: bool, u: int, bids: list, asks: list) -> DepthSnapshotRow | DepthUpdateRow:
    """The row the recorder stores for one message (issue 19's contract)."""
    (bp, bq), (ap, aq) = levels(bids), levels(asks)
    if snapshot:
        return DepthSnapshotRow(T, "BTCUSDT", "linear", u, T, None, "start", bp, bq, ap, aq, T,
                                None)  # fmt: skip
    return DepthUpdateRow(T, "BTCUSDT", "linear", None, u, u, u - 1, bp, bq, ap, aq, T, None)


def wire(snapshot: bool, u: int, bids: list, asks: list) -> BookRow:
    (bp, bq), (ap, aq) = levels(bids), levels(asks)
    return BookRow(T, "BTCUSDT", "linear", 50, snapshot, u, None, None, bp, bq, ap, aq, T, None)


def feed(sync: BybitSync, row: DepthSnapshotRow | DepthUpdateRow) -> None:
    if isinstance(row, DepthSnapshotRow):
        sync.on_snapshot(row)
    else:
        sync.on_diff(row)


def test_the_replay_keeps_the_recorders_book_message_by_message():
    sync, book = BybitSync("BTCUSDT"), BybitBook()
    validity = []
    for message in MESSAGES:
        feed(sync, stored(*message))
        book.on_message(wire(*message))
        validity.append(sync.valid)
        assert sync.valid == book.synced, message
        if sync.valid:
            assert sync.book.top(10) == book.top(10), message
    assert validity == [True, True, True, False, False, True, True, True, True]


def test_a_delta_read_before_its_snapshot_at_the_same_millisecond_still_chains():
    sync = BybitSync("BTCUSDT")
    feed(sync, stored(*MESSAGES[0]))
    feed(sync, stored(False, 12, [(97.0, 1.0)], []))  # u 11 lost: broken
    feed(sync, stored(False, 31, [(95.0, 4.0)], []))  # stored at the snapshot's millisecond
    assert not sync.valid
    feed(sync, stored(True, 30, [(96.0, 1.0)], [(97.5, 1.0)]))
    assert sync.valid and sync.book.last_update_id == 31
    assert sync.book.top(5)[0] == [96.0, 95.0]


def test_a_delta_the_snapshot_already_holds_is_skipped():
    sync = BybitSync("BTCUSDT")
    feed(sync, stored(*MESSAGES[0]))
    feed(sync, stored(False, 10, [(50.0, 1.0)], []))
    assert sync.valid and 50.0 not in sync.book.bids


def test_each_venue_replays_by_its_own_rule():
    assert isinstance(book_sync(VENUES["bybit"], "BTCUSDT"), BybitSync)
    assert not isinstance(book_sync(VENUES["binance"], "BTCUSDT"), BybitSync)
