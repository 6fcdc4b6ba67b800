"""aggTrade id continuity per symbol: ids ``a`` are consecutive, so a jump is a hole.

Ids that arrive late (two connections overlapping at a rollover or reconnect) fill their hole
instead of being dropped as duplicates; whatever is still missing after a grace period is
backfilled from REST by the caller.
"""

from __future__ import annotations

from enum import Enum


class Seen(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    FILLED = "filled"  # a late id that was inside a known hole


class TradeSequence:
    __slots__ = ("holes", "last_id")

    def __init__(self, last_id: int | None = None) -> None:
        self.last_id = last_id
        self.holes: list[list[int]] = []  # [first_missing, last_missing], ascending

    def observe(self, agg_id: int) -> tuple[Seen, tuple[int, int] | None]:
        """Classify an id; also returns the new hole (first, last missing) if it opened one."""
        last = self.last_id
        if last is None or agg_id == last + 1:
            self.last_id = agg_id
            return Seen.NEW, None
        if agg_id > last:
            hole = (last + 1, agg_id - 1)
            self.holes.append([hole[0], hole[1]])
            self.last_id = agg_id
            return Seen.NEW, hole
        return (Seen.FILLED, None) if self._fill(agg_id) else (Seen.DUPLICATE, None)

    def _fill(self, agg_id: int) -> bool:
        for i, (lo, hi) in enumerate(self.holes):
            if lo <= agg_id <= hi:
                if lo == hi:
                    del self.holes[i]
                elif agg_id == lo:
                    self.holes[i][0] = lo + 1
                elif agg_id == hi:
                    self.holes[i][1] = hi - 1
                else:
                    self.holes[i : i + 1] = [[lo, agg_id - 1], [agg_id + 1, hi]]
                return True
        return False

    def missing_within(self, first: int, last: int) -> list[tuple[int, int]]:
        """The parts of [first, last] still missing."""
        return [
            (max(lo, first), min(hi, last)) for lo, hi in self.holes if lo <= last and hi >= first
        ]

    def reopen(self, first: int, last: int) -> None:
        """A hole recorded by an earlier run and never repaired: missing again until backfilled."""
        self.holes.append([first, last])
        self.holes.sort()

    def mark_filled(self, first: int, last: int) -> None:
        """Forget [first, last] (backfilled, or given up on and recorded as unrecoverable)."""
        kept: list[list[int]] = []
        for lo, hi in self.holes:
            if hi < first or lo > last:
                kept.append([lo, hi])
                continue
            if lo < first:
                kept.append([lo, first - 1])
            if hi > last:
                kept.append([last + 1, hi])
        self.holes = kept
