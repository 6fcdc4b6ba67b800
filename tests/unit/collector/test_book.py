"""Binance's local-book algorithm (futures: pu chaining; spot: U = previous u + 1)."""

import datetime as dt

from collector.rows import DepthSnapshotRow, DepthUpdateRow
from collector.venues.binance.book import BookSync
from collector.venues.binance.sequence import Seen, TradeSequence

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def diff(U, u, pu, bids=(), asks=()):
    return DepthUpdateRow(
        T,
        "BTCUSDT",
        "usdm",
        T,
        U,
        u,
        pu,
        [p for p, _ in bids],
        [q for _, q in bids],
        [p for p, _ in asks],
        [q for _, q in asks],
        T,
        None,
    )


def snap(last, bids, asks):
    return DepthSnapshotRow(
        T,
        "BTCUSDT",
        "usdm",
        last,
        T,
        T,
        "start",
        [p for p, _ in bids],
        [q for _, q in bids],
        [p for p, _ in asks],
        [q for _, q in asks],
        T,
        None,
    )


def test_buffered_diffs_are_bridged_by_the_snapshot():
    sync = BookSync("BTCUSDT")
    sync.on_diff(diff(90, 95, 89, bids=[(99.0, 1.0)]))  # older than the snapshot: dropped
    sync.on_diff(diff(96, 105, 95, bids=[(100.0, 2.0)]))  # U <= 100 <= u: the bridge
    sync.on_diff(diff(106, 110, 105, asks=[(101.0, 0.0), (102.0, 3.0)]))
    assert not sync.valid
    assert sync.on_snapshot(snap(100, [(100.0, 1.0), (99.0, 5.0)], [(101.0, 4.0)]))
    assert sync.valid and sync.book.last_update_id == 110
    assert sync.book.top(5) == ([100.0, 99.0], [2.0, 5.0], [102.0], [3.0])


def test_live_stream_may_continue_directly_from_the_snapshot_id():
    sync = BookSync("BTCUSDT")
    assert sync.on_snapshot(snap(100, [(1.0, 1.0)], [(2.0, 1.0)]))
    assert sync.on_diff(diff(103, 107, 100, bids=[(1.5, 1.0)])) is None  # pu == lastUpdateId
    assert sync.valid and sync.book.top(1)[0] == [1.5]


def test_pu_break_invalidates_until_a_new_snapshot():
    sync = BookSync("BTCUSDT")
    sync.on_diff(diff(96, 105, 95))
    sync.on_snapshot(snap(100, [(1.0, 1.0)], [(2.0, 1.0)]))
    brk = sync.on_diff(diff(120, 125, 118))  # expected pu == 105
    assert brk is not None and brk.prev_u == 105 and not sync.valid
    sync.on_diff(diff(126, 130, 125, bids=[(1.2, 4.0)]))
    assert sync.on_snapshot(snap(127, [(1.1, 1.0)], [(2.0, 1.0)]))
    assert sync.valid and sync.book.top(1)[0] == [1.2]


def test_snapshot_older_than_the_buffer_asks_for_another():
    sync = BookSync("BTCUSDT")
    sync.on_diff(diff(200, 210, 199))
    assert not sync.on_snapshot(snap(150, [], []))
    assert not sync.valid and sync.buffer


def test_overlapping_duplicates_are_ignored():
    sync = BookSync("BTCUSDT")
    sync.on_snapshot(snap(100, [], []))
    sync.on_diff(diff(101, 110, 100, bids=[(5.0, 1.0)]))
    assert sync.on_diff(diff(101, 110, 100, bids=[(5.0, 1.0)])) is None
    assert sync.valid


def test_spot_chains_by_consecutive_ids():
    sync = BookSync("BNBBTC", "spot")
    sync.on_diff(diff(95, 103, None))
    assert sync.on_snapshot(snap(100, [(1.0, 1.0)], []))
    assert sync.on_diff(diff(104, 108, None)) is None
    assert sync.on_diff(diff(110, 111, None)) is not None and not sync.valid


def test_trade_sequence_holes_and_late_fills():
    seq = TradeSequence(10)
    assert seq.observe(11) == (Seen.NEW, None)
    assert seq.observe(15) == (Seen.NEW, (12, 14))
    assert seq.observe(13) == (Seen.FILLED, None)
    assert seq.observe(13) == (Seen.DUPLICATE, None)
    assert seq.missing_within(12, 14) == [(12, 12), (14, 14)]
    seq.mark_filled(12, 14)
    assert seq.holes == [] and seq.observe(11) == (Seen.DUPLICATE, None)
