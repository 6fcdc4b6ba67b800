"""Liquidity walls: unusually large resting size, its persistence, and distance to it.

[PROPOSAL] (no canonical definition exists; parameters live in `WallConfig`):
1. Reference set: levels of the SAME side within `band_bps` of the mid, optionally
   summed into buckets of `bucket_ticks` ticks (walls are often split across ticks).
2. A level (bucket) is a wall candidate if qty ≥ k_mult × median(qty of reference set)
   and qty·price ≥ min_notional.
3. A candidate becomes a wall once it has been seen continuously for ≥ min_age_ms
   (the anti-spoofing persistence test); first_seen, last_seen and max size are kept.
4. When a wall stops qualifying an event is emitted: "reached" if the touch got to
   its price while it lived (traded into or through), "pulled" if it vanished while
   still inside the band and the visible depth, "out_of_view" otherwise (the mid moved
   away or it fell beyond the visible levels, so we cannot tell).
5. Nearest wall: highest-priced bid wall, lowest-priced ask wall. Distances
   d_bid = (mid − P)/mid·1e4 bps, d_ask = (P − mid)/mid·1e4 bps, and ticks from the
   touch. No wall → None (not 0, not ∞).
A resync forgets tracked walls without events: persistence across a gap is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from indicators.types import BookState, Level

BID, ASK = 1, -1
_qty = itemgetter(1)


@dataclass(frozen=True, slots=True)
class WallConfig:
    """[PROPOSAL] wall parameters. Defaults: 100 bps band, 5× the side median, no
    notional floor, single-tick buckets, 5 s persistence."""

    band_bps: float = 100.0
    k_mult: float = 5.0
    min_notional: float = 0.0
    bucket_ticks: int = 1
    min_age_ms: int = 5000
    baseline: str = "median"  # or "mean": seed 000's "above the average"


class Wall(NamedTuple):
    side: int  # BID (+1) or ASK (−1)
    ticks: int  # price of the largest level in the bucket
    qty: float  # current size (bucket sum)
    max_qty: float
    first_seen_ms: int
    last_seen_ms: int


class WallEvent(NamedTuple):
    kind: str  # "reached", "pulled" or "out_of_view"
    wall: Wall


class NearestWalls(NamedTuple):
    bid: Wall | None
    ask: Wall | None
    bid_bps: float | None
    ask_bps: float | None
    bid_ticks: int | None  # best bid − wall price, in ticks
    ask_ticks: int | None  # wall price − best ask, in ticks


class _Tracked:
    __slots__ = ("first_seen", "last_seen", "max_qty", "qty", "side", "ticks", "touched")

    def __init__(self, side: int, ticks: int, qty: float, now: int) -> None:
        self.side, self.ticks, self.qty, self.max_qty = side, ticks, qty, qty
        self.first_seen = self.last_seen = now
        self.touched = False

    def snapshot(self) -> Wall:
        return Wall(self.side, self.ticks, self.qty, self.max_qty, self.first_seen, self.last_seen)


class LiquidityWalls:
    """Tracks bid and ask walls across book states; see the module docstring.

    `value` is a `NearestWalls` for the latest usable book (None for an empty,
    one-sided or crossed book); `events` holds the wall events of the latest update.
    """

    __slots__ = ("_tracked", "config", "events", "value")

    def __init__(self, config: WallConfig | None = None) -> None:
        self.config = config or WallConfig()
        self.reset()

    def reset(self) -> None:
        self._tracked: dict[tuple[int, int], _Tracked] = {}
        self.value: NearestWalls | None = None
        self.events: tuple[WallEvent, ...] = ()

    @property
    def ready(self) -> bool:
        return self.value is not None

    @property
    def walls(self) -> list[Wall]:
        """Every tracked candidate, persistent or not."""
        return [w.snapshot() for w in self._tracked.values()]

    def update(self, book: BookState) -> NearestWalls | None:
        self.events = ()
        bids, asks = book.bids, book.asks
        if not bids or not asks or bids[0][0] >= asks[0][0]:
            self.value = None
            return None
        if book.resynced:
            self._tracked.clear()
        cfg, now = self.config, book.time_ms
        mid = (bids[0][0] + asks[0][0]) * 0.5  # ticks; bps are unit-free
        lo, hi = mid * (1.0 - cfg.band_bps * 1e-4), mid * (1.0 + cfg.band_bps * 1e-4)
        seen: set[tuple[int, int]] = set()
        self._scan(BID, bids, lo, hi, book.tick_size, now, seen)
        self._scan(ASK, asks, lo, hi, book.tick_size, now, seen)
        self._retire(seen, book, lo, hi)
        self.value = self._nearest(book, mid, now)
        return self.value

    def _scan(
        self,
        side: int,
        levels: Sequence[Level],
        lo: float,
        hi: float,
        tick: float,
        now: int,
        seen: set[tuple[int, int]],
    ) -> None:
        cfg = self.config
        ref = _reference_set(levels, lo, hi, cfg.bucket_ticks)
        if not ref:
            return
        sizes = list(map(_qty, ref))
        qtys = sorted(sizes)
        n = len(qtys)
        if cfg.baseline == "mean":
            typical = sum(qtys) / n
        else:
            typical = qtys[n // 2] if n % 2 else 0.5 * (qtys[n // 2 - 1] + qtys[n // 2])
        threshold = cfg.k_mult * typical
        if qtys[-1] < threshold:
            return  # the common case: no wall on this side
        if n == 1 or qtys[-2] < threshold:  # the next most common: exactly one candidate,
            candidates = [ref[sizes.index(qtys[-1])]]  # found in C, not level by level
        else:
            candidates = [lvl for lvl in ref if lvl[1] >= threshold]
        for ticks, qty in candidates:
            if qty * ticks * tick < cfg.min_notional:
                continue
            key = (side, ticks // cfg.bucket_ticks)
            seen.add(key)
            wall = self._tracked.get(key)
            if wall is None:
                self._tracked[key] = _Tracked(side, ticks, qty, now)
                continue
            wall.ticks, wall.qty, wall.last_seen = ticks, qty, now
            wall.max_qty = max(wall.max_qty, qty)

    def _retire(self, seen: set[tuple[int, int]], book: BookState, lo: float, hi: float) -> None:
        best_bid, best_ask = book.bids[0][0], book.asks[0][0]
        deepest_bid, deepest_ask = book.bids[-1][0], book.asks[-1][0]
        events = []
        for key, wall in list(self._tracked.items()):
            if wall.side == BID:
                wall.touched |= best_bid <= wall.ticks
                in_view = wall.ticks >= max(lo, deepest_bid)
            else:
                wall.touched |= best_ask >= wall.ticks
                in_view = wall.ticks <= min(hi, deepest_ask)
            if key in seen:
                continue
            del self._tracked[key]
            if wall.last_seen - wall.first_seen < self.config.min_age_ms:
                continue  # a flicker, never a wall: no event
            kind = "reached" if wall.touched else "pulled" if in_view else "out_of_view"
            events.append(WallEvent(kind, wall.snapshot()))
        self.events = tuple(events)

    def _nearest(self, book: BookState, mid: float, now: int) -> NearestWalls:
        min_age = self.config.min_age_ms
        bid: _Tracked | None = None
        ask: _Tracked | None = None
        for w in self._tracked.values():
            if now - w.first_seen < min_age:
                continue
            if w.side == BID and (bid is None or w.ticks > bid.ticks):
                bid = w
            elif w.side == ASK and (ask is None or w.ticks < ask.ticks):
                ask = w
        return NearestWalls(
            bid.snapshot() if bid else None,
            ask.snapshot() if ask else None,
            (mid - bid.ticks) / mid * 1e4 if bid else None,
            (ask.ticks - mid) / mid * 1e4 if ask else None,
            book.bids[0][0] - bid.ticks if bid else None,
            ask.ticks - book.asks[0][0] if ask else None,
        )


def _reference_set(
    levels: Sequence[Level], lo: float, hi: float, bucket_ticks: int
) -> Sequence[tuple[int, float]]:
    """(ticks, qty) of the levels (or buckets) within [lo, hi] ticks, best first.

    A bucket's qty is the sum of its levels; its price is that of its largest level."""
    if not levels:
        return levels
    inside = lo <= levels[0][0] <= hi and lo <= levels[-1][0] <= hi
    if bucket_ticks == 1:
        return levels if inside else [(t, q) for t, q in levels if lo <= t <= hi]
    buckets: dict[int, list[float]] = {}
    for t, q in levels:
        if lo <= t <= hi:
            b = buckets.get(t // bucket_ticks)
            if b is None:
                buckets[t // bucket_ticks] = [q, t, q]
            else:
                b[0] += q
                if q > b[2]:
                    b[1], b[2] = t, q
    return [(int(b[1]), b[0]) for b in buckets.values()]
