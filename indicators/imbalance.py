"""Order-book imbalance (top-N, banded, weighted), weighted mid, and OFI.

Book-level conventions for everything here:
- An empty side, or both, gives None: a Binance USD-M book never has an empty side
  except while it is being rebuilt, so ±1 would report a desync as extreme pressure.
- A crossed or locked book (best bid ≥ best ask) is a desync: it is dropped (None).
- Prices are integer ticks; quantities are floats already parsed at the edge.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from operator import add, itemgetter, mul

from indicators.types import BookState, Level

_qty = itemgetter(1)  # map(_qty, levels) sums sizes in C: the book path runs 50k/s

# The top-N imbalance and every band that covers the visible side sum the same side of
# the same book. The volume of the last tuple side seen per slot is kept: a tuple cannot
# change, and holding it keeps its identity from being reused, so `is` proves a repeat.
_BIDS, _ASKS = 0, 1
_last_volume: list[tuple[Sequence[Level] | None, float]] = [(None, 0.0), (None, 0.0)]


def _volume(levels: Sequence[Level], slot: int) -> float:
    """Σ qty over `levels` (a whole book side), computed once per tuple side."""
    seen, total = _last_volume[slot]
    if levels is seen:
        return total
    total = sum(map(_qty, levels))
    if type(levels) is tuple:  # a list may change in place: never remembered
        _last_volume[slot] = (levels, total)
    return total


def _usable(book: BookState) -> bool:
    bids, asks = book.bids, book.asks
    return bool(bids) and bool(asks) and bids[0][0] < asks[0][0]


def mid_price(book: BookState) -> float | None:
    """(P^B + P^A) / 2 in price units; None for an empty or crossed book."""
    return _mid(book) if _usable(book) else None


def _mid(book: BookState) -> float:
    return (book.bids[0][0] + book.asks[0][0]) * 0.5 * book.tick_size


def queue_imbalance(book: BookState) -> float | None:
    """Stoikov's L1 queue imbalance I = q^B / (q^B + q^A) ∈ [0, 1]."""
    if not _usable(book):
        return None
    qb, qa = book.bids[0][1], book.asks[0][1]
    total = qb + qa
    return qb / total if total > 0 else None


def weighted_mid(book: BookState) -> float | None:
    """Naive micro-price P_w = I·P^A + (1 − I)·P^B: leans toward the thinner side.

    (Stoikov's micro-price proper needs a fitted Markov chain, so it is not here.)
    """
    imb = queue_imbalance(book)
    if imb is None:
        return None
    pb, pa = book.bids[0][0], book.asks[0][0]
    return (imb * pa + (1.0 - imb) * pb) * book.tick_size


def depth_imbalance(
    book: BookState, levels: int, weights: Sequence[float] | None = None
) -> float | None:
    """OBI_N = (Σ w_i·V^B_i − Σ w_i·V^A_i) / (Σ w_i·V^B_i + Σ w_i·V^A_i) ∈ [−1, 1]
    over the top `levels` of each side (fewer if the side is shorter)."""
    if not _usable(book):
        return None
    if weights is None:
        b = _volume(book.bids[:levels], _BIDS)  # a tuple's full slice is the tuple itself
        a = _volume(book.asks[:levels], _ASKS)
    else:  # map stops at the shorter of weights and levels
        b = sum(map(mul, weights[:levels], map(_qty, book.bids)))
        a = sum(map(mul, weights[:levels], map(_qty, book.asks)))
    total = b + a
    return (b - a) / total if total > 0 else None


def band_imbalance(book: BookState, band_bps: float) -> float | None:
    """Depth imbalance over the levels within `band_bps` of the mid on each side:
    bids with P ≥ mid·(1 − b/1e4), asks with P ≤ mid·(1 + b/1e4). [PROPOSAL] bands
    instead of a level count, because "top 20" spans 2 ticks on BTC and 2% on an alt."""
    if not _usable(book):
        return None
    mid = (book.bids[0][0] + book.asks[0][0]) * 0.5  # in ticks; bps are unit-free
    lo, hi = mid * (1.0 - band_bps * 1e-4), mid * (1.0 + band_bps * 1e-4)
    b = _sum_within(book.bids, 1, lo, _BIDS)  # bids inside: ticks ≥ lo
    a = _sum_within(book.asks, -1, hi, _ASKS)  # asks inside: ticks ≤ hi
    total = b + a
    return (b - a) / total if total > 0 else None


def _sum_within(levels: Sequence[Level], sign: int, limit: float, slot: int) -> float:
    """Sum of the sizes of best-first levels with sign·ticks ≥ sign·limit."""
    bound = sign * limit
    if sign * levels[-1][0] >= bound:  # the usual case: the whole visible side is inside
        return _volume(levels, slot)
    total = 0.0
    for ticks, qty in levels:
        if sign * ticks < bound:
            break
        total += qty
    return total


class DepthImbalance:
    """Incremental wrapper of `depth_imbalance` (top-N, optionally weighted, e.g.
    weights `(1, 0.5, 0.25, …)` for w_i = e^{−λ(i−1)} with λ = ln 2). `levels_used` is
    (bid levels, ask levels) actually summed."""

    __slots__ = ("_depths", "levels", "value", "weights")

    def __init__(self, levels: int, weights: Sequence[float] | None = None) -> None:
        if levels < 1 or (weights is not None and len(weights) < levels):
            raise ValueError("levels must be >= 1 and weights must cover every level")
        self.levels = levels
        self.weights = tuple(weights) if weights is not None else None
        self.reset()

    def reset(self) -> None:
        self.value: float | None = None
        self._depths = (0, 0)  # (bid levels, ask levels) of the latest book

    @property
    def ready(self) -> bool:
        return self.value is not None

    @property
    def levels_used(self) -> tuple[int, int]:
        """(bid levels, ask levels) of the latest book, at most `levels` each."""
        n, (bids, asks) = self.levels, self._depths
        return min(n, bids), min(n, asks)

    def update(self, book: BookState) -> float | None:
        self.value = depth_imbalance(book, self.levels, self.weights)
        self._depths = len(book.bids), len(book.asks)  # capped on demand: rarely read
        return self.value


class BandImbalance:
    """Incremental wrapper of `band_imbalance` for one band in bps."""

    __slots__ = ("band_bps", "value")

    def __init__(self, band_bps: float) -> None:
        if band_bps <= 0:
            raise ValueError("band_bps must be > 0")
        self.band_bps = band_bps
        self.value: float | None = None

    def reset(self) -> None:
        self.value = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, book: BookState) -> float | None:
        self.value = band_imbalance(book, self.band_bps)
        return self.value


class WeightedMid:
    """Incremental wrapper of `weighted_mid`; `mid` is the plain mid of the same book."""

    __slots__ = ("mid", "value")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.value: float | None = None
        self.mid: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, book: BookState) -> float | None:
        self.value = weighted_mid(book)
        self.mid = _mid(book) if self.value is not None else None  # the book is usable
        return self.value


def ofi_step(prev_bid: Level, prev_ask: Level, bid: Level, ask: Level) -> float:
    """Cont–Kukanov–Stoikov contribution of one transition n−1 → n:

    e_n = q^B_n·1{P^B_n ≥ P^B_{n−1}} − q^B_{n−1}·1{P^B_n ≤ P^B_{n−1}}
        − q^A_n·1{P^A_n ≤ P^A_{n−1}} + q^A_{n−1}·1{P^A_n ≥ P^A_{n−1}}
    """
    (ppb, pqb), (ppa, pqa), (pb, qb), (pa, qa) = prev_bid, prev_ask, bid, ask
    e = 0.0
    if pb >= ppb:
        e += qb
    if pb <= ppb:
        e -= pqb
    if pa <= ppa:
        e -= qa
    if pa >= ppa:
        e += pqa
    return e


class Ofi:
    """Best-level order-flow imbalance, OFI = Σ e_n (see `ofi_step`).

    `last` is e_n of the latest update (None when it produced no step); `value` is
    Σ e_n over the trailing `window_ms` (or since reset when None), None before the
    first step. The first state, a `resynced` state, an empty side or a crossed book
    yields no step and clears the previous state, so a gap is never counted as flow;
    `skipped` counts those. Events before a resync stay in the sum: they were real.
    """

    __slots__ = ("_events", "_prev_ask", "_prev_bid", "_sum", "last", "skipped", "window_ms")

    def __init__(self, window_ms: int | None = None) -> None:
        self.window_ms = window_ms
        self.reset()

    def reset(self) -> None:
        self._prev_bid: Level | None = None
        self._prev_ask: Level | None = None
        self._events: deque[tuple[int, float]] = deque()
        self._sum: float | None = None
        self.last: float | None = None
        self.skipped = 0

    @property
    def ready(self) -> bool:
        return self._sum is not None

    @property
    def value(self) -> float | None:
        return self._sum

    def update(self, book: BookState) -> float | None:
        """Feed one book state; return e_n (None if this state gave no step)."""
        bids, asks = book.bids, book.asks
        if not bids or not asks or bids[0][0] >= asks[0][0]:
            self._prev_bid = self._prev_ask = None
            self.skipped += 1
            self.last = None
            return None
        bid, ask = bids[0], asks[0]
        pbid, pask = self._prev_bid, self._prev_ask
        self._prev_bid, self._prev_ask = bid, ask
        if pbid is None or pask is None or book.resynced:
            self.last = None
            return None
        e = ofi_step(pbid, pask, bid, ask)
        self.last = e
        self._add(book.time_ms, e)
        return e

    def _add(self, time_ms: int, e: float) -> None:
        self._sum = e if self._sum is None else self._sum + e
        if self.window_ms is None:
            return
        events = self._events
        events.append((time_ms, e))
        cutoff = time_ms - self.window_ms
        while events[0][0] <= cutoff:
            self._sum -= events.popleft()[1]


class MultiLevelOfi:
    """Multi-level OFI (Xu, Gould & Howison 2019): `ofi_step` applied to the m-th best
    bid and ask for m = 1..levels, accumulated per level since reset.

    `last[m]` is the step of level m+1 (None when that level is missing on either side
    of either state); `value[m]` is its running sum (None until it had a step).
    Resync, empty side and crossed book behave as in `Ofi`.
    """

    __slots__ = ("_prev", "_stepped", "_sums", "last", "levels", "skipped")

    def __init__(self, levels: int) -> None:
        if levels < 1:
            raise ValueError("levels must be >= 1")
        self.levels = levels
        self.reset()

    def reset(self) -> None:
        self._prev: BookState | None = None
        self._sums: list[float | None] = [None] * self.levels
        self._stepped = 0  # the levels that had a step: their sums are numbers
        self.last: tuple[float | None, ...] = (None,) * self.levels
        self.skipped = 0

    @property
    def ready(self) -> bool:
        return self._sums[0] is not None

    @property
    def value(self) -> tuple[float | None, ...]:
        return tuple(self._sums)

    def update(self, book: BookState) -> tuple[float | None, ...]:
        """Feed one book state; return the per-level steps (`last`)."""
        bids, asks = book.bids, book.asks
        prev, self._prev = self._prev, book
        if not bids or not asks or bids[0][0] >= asks[0][0]:
            self._prev = None
            self.skipped += 1
            prev = None
        if prev is None or book.resynced:
            self.last = (None,) * self.levels
            return self.last
        n = self.levels
        # `ofi_step` per level, inlined in one comprehension (zip stops at the shallowest
        # side): a call and four level unpackings per level would cost more than the
        # formula. b, a: this book's bid and ask level; pb, pa: the previous book's;
        # [0] is the price in ticks, [1] the quantity.
        steps = [
            ((b[1] if b[0] >= pb[0] else 0.0) - (pb[1] if b[0] <= pb[0] else 0.0))
            + ((pa[1] if a[0] >= pa[0] else 0.0) - (a[1] if a[0] <= pa[0] else 0.0))
            for b, a, pb, pa in zip(bids[:n], asks, prev.bids, prev.asks, strict=False)
        ]
        depth, sums = len(steps), self._sums
        if depth <= self._stepped:  # the usual case: every sum is a number, add in C
            sums[:depth] = map(add, sums, steps)
        else:
            sums[:depth] = [e if s is None else s + e for s, e in zip(sums, steps, strict=False)]
            self._stepped = depth
        self.last = tuple(steps) if depth == n else (*steps, *(None,) * (n - depth))
        return self.last
