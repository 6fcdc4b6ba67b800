"""aggTrade id continuity per symbol: ids ``a`` are consecutive, so a jump is a hole.

Ids that arrive late (two connections overlapping at a rollover or reconnect) fill their hole
instead of being dropped as duplicates; whatever is still missing after a grace period is
backfilled from REST by the caller.

An id that cannot belong to the sequence — further ahead than any market trades in the time
since the last one, or older than the last id while its time is newer (a duplicate carries its
original, older time) — is a *suspect*: held back, not stored. If the next id continues the old
sequence the suspect was a poison frame; if it continues the suspect, the exchange's ids started
again (a new market, a simulator restarted on the same database): a new *era* begins there.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

# A jump is plausible if the market could have traded that many times since the last trade.
MAX_IDS_PER_SECOND = 20_000  # far above any symbol's aggTrade rate
ID_SLACK = 100_000


def plausible(ahead: int, since: dt.timedelta | None, per_second: int, slack: int) -> bool:
    """Could ids move ``ahead`` in ``since`` (None: unknown, anything goes)?"""
    if since is None:
        return True
    return ahead <= slack + per_second * max(0.0, since.total_seconds())


class Seen(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    FILLED = "filled"  # a late id that was inside a known hole
    SUSPECT = "suspect"  # implausible for the sequence: held until the next id decides
    ERA = "era"  # the previous suspect and this id start a new sequence


class TradeSequence:
    __slots__ = ("holes", "last_id", "last_time", "span", "suspect")

    def __init__(self, last_id: int | None = None, last_time: dt.datetime | None = None) -> None:
        self.last_id = last_id
        self.last_time = last_time  # exchange time of ``last_id`` (None: not known)
        self.holes: list[list[int]] = []  # [first_missing, last_missing], ascending
        self.span: tuple[dt.datetime | None, dt.datetime] | None = None  # times around the
        # newest hole: the trades missing in it lie between them
        self.suspect: tuple[int, dt.datetime] | None = None

    def observe(
        self, agg_id: int, time: dt.datetime | None = None
    ) -> tuple[Seen, tuple[int, int] | None]:
        """Classify an id; also returns the new hole (first, last missing) if it opened one."""
        last, last_time = self.last_id, self.last_time
        since = None if time is None or last_time is None else time - last_time
        if last is None or agg_id == last + 1:
            return Seen.NEW, self._advance(agg_id, time, None)
        if agg_id > last:
            if not plausible(agg_id - last, since, MAX_IDS_PER_SECOND, ID_SLACK):
                return self._suspect(agg_id, time)
            return Seen.NEW, self._advance(agg_id, time, (last + 1, agg_id - 1))
        if self._fill(agg_id):
            return Seen.FILLED, None
        if since is not None and since > dt.timedelta(0):  # older id, newer time: not a replay
            return self._suspect(agg_id, time)
        return Seen.DUPLICATE, None

    def _advance(
        self, agg_id: int, time: dt.datetime | None, hole: tuple[int, int] | None
    ) -> tuple[int, int] | None:
        if hole is not None:
            self.holes.append([hole[0], hole[1]])
            if time is not None:
                self.span = (self.last_time, time)
        self.last_id, self.suspect = agg_id, None
        if time is not None:
            self.last_time = time
        return hole

    def _suspect(
        self, agg_id: int, time: dt.datetime | None
    ) -> tuple[Seen, tuple[int, int] | None]:
        s = self.suspect
        continues = (  # this id follows the suspect: two frames agree on a new sequence
            time is not None
            and s is not None
            and s[0] < agg_id
            and plausible(agg_id - s[0], time - s[1], MAX_IDS_PER_SECOND, ID_SLACK)
        )
        if continues:
            assert s is not None and time is not None
            self.last_id, self.last_time = s
            hole = (s[0] + 1, agg_id - 1) if agg_id > s[0] + 1 else None
            return Seen.ERA, self._advance(agg_id, time, hole)
        self.suspect = None if time is None else (agg_id, time)
        return Seen.SUSPECT, None

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
