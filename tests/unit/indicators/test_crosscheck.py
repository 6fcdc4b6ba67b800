"""Cross-check against the independent `orderflow-metrics` package (test-only dependency).

Where its definitions differ from ours we compare only what both define identically:
- it returns 0.0 for an empty or zero-size book where we return None, so the random
  books here always have positive size (the None cases are unit-tested on our side);
- its multi-level OFI contributes 0.0 for a level missing from either snapshot where we
  report None, so we compare the levels present in both and check ours are None elsewhere;
- it has no notion of a resync: across a resync we emit no step, so we compare only
  transitions we count, and assert that the resync transitions are exactly the gaps;
- it takes float prices; ours are integer ticks, so values in price units (weighted
  mid) are compared to 1e-9 relative.
"""

import random
from itertools import pairwise

import orderflow_metrics as om
import pytest

from indicators import (
    BookState,
    Level,
    MultiLevelOfi,
    Ofi,
    TimeBars,
    Trade,
    depth_imbalance,
    weighted_mid,
)

TICK = 0.1
LEVELS = 10


def random_books(n: int, seed: int) -> list[BookState]:
    """A random walk of a 1–10 level book: moves of the touch, queue changes, resyncs."""
    rng = random.Random(seed)
    best_bid, spread, out = 100_000, 1, []
    for i in range(n):
        best_bid += rng.choice((-2, -1, 0, 0, 0, 1, 2))
        spread = max(1, spread + rng.choice((-1, 0, 0, 1)))
        nb, na = rng.randint(1, LEVELS), rng.randint(1, LEVELS)
        bids = tuple(Level(best_bid - k, rng.randint(1, 5000) / 100) for k in range(nb))
        asks = tuple(Level(best_bid + spread + k, rng.randint(1, 5000) / 100) for k in range(na))
        out.append(BookState(i * 100, bids, asks, TICK, resynced=rng.random() < 0.01))
    return out


def l1_quote(book: BookState) -> om.L1Quote:
    (pb, qb), (pa, qa) = book.bids[0], book.asks[0]
    return om.L1Quote(pb * TICK, qb, pa * TICK, qa)


def snapshot(book: BookState) -> om.BookSnapshot:
    return om.BookSnapshot(
        bids=[om.Level(t * TICK, q) for t, q in book.bids],
        asks=[om.Level(t * TICK, q) for t, q in book.asks],
    )


BOOKS = random_books(20_000, seed=6)


def test_best_level_ofi_matches_cont_kukanov_stoikov_reference():
    ofi = Ofi()
    ours = [ofi.update(b) for b in BOOKS]
    theirs = [None] + [om.ofi_contribution(l1_quote(a), l1_quote(b)) for a, b in pairwise(BOOKS)]
    compared = 0
    for book, mine, ref in zip(BOOKS, ours, theirs, strict=True):
        if book.resynced or ref is None:
            assert mine is None
            continue
        assert mine == pytest.approx(ref, abs=1e-9)
        compared += 1
    assert compared > 19_000
    gaps = sum(b.resynced for b in BOOKS[1:])
    counted = [r for b, r in zip(BOOKS, theirs, strict=True) if r is not None and not b.resynced]
    assert ofi.value == pytest.approx(sum(counted), rel=1e-9)
    assert sum(1 for s in ours if s is None) == 1 + gaps


def test_multi_level_ofi_matches_on_levels_both_define():
    mlofi = MultiLevelOfi(LEVELS)
    mlofi.update(BOOKS[0])
    compared = 0
    for prev, cur in pairwise(BOOKS):
        mine = mlofi.update(cur)
        theirs = om.multi_level_ofi(snapshot(prev), snapshot(cur), LEVELS)
        if cur.resynced:
            assert mine == (None,) * LEVELS
            continue
        depth = min(len(prev.bids), len(prev.asks), len(cur.bids), len(cur.asks))
        for m in range(LEVELS):
            if m < depth:
                assert mine[m] == pytest.approx(theirs[m], abs=1e-9)
                compared += 1
            else:
                assert mine[m] is None  # theirs: 0.0, a level that is not there
    assert compared > 20_000


def test_depth_imbalance_and_weighted_mid_match():
    for book in BOOKS:
        quote = l1_quote(book)
        assert depth_imbalance(book, 1) == pytest.approx(om.depth_imbalance(quote), abs=1e-12)
        assert weighted_mid(book) == pytest.approx(om.weighted_mid(quote), rel=1e-12)


def test_bar_normalized_delta_matches_trade_imbalance():
    rng = random.Random(7)
    trades = [
        Trade(
            i * 50, 100 + rng.randint(-20, 20) * TICK, rng.randint(1, 900) / 100, rng.random() < 0.5
        )
        for i in range(20_000)
    ]
    bars = TimeBars(1000, TICK)
    closed = bars.update_many(trades) + bars.advance(trades[-1].time_ms + 1000)
    by_bar: dict[int, list[om.Trade]] = {}
    for t in trades:
        side = "sell" if t.is_buyer_maker else "buy"  # Binance m=True: the seller was taker
        by_bar.setdefault(t.time_ms // 1000, []).append(om.Trade(t.price, t.qty, side))
    assert len(closed) == len(by_bar)
    for bar in closed:
        ref = om.trade_imbalance(by_bar[bar.start_ms // 1000])
        assert bar.normalized_delta == pytest.approx(ref, abs=1e-12)
