"""Binance's rule for keeping a local order book (``collector.book.Book``) in sync.

USD-M futures: buffer diffs, fetch a REST snapshot (lastUpdateId L), drop diffs with u < L, accept
the first diff when U <= L <= u or pu == L (live streams continue directly from L), then every
diff must have pu == previous u. Spot chains by U == previous u + 1 instead. A break makes the
book invalid until a new snapshot bridges it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from collector.book import Book
from collector.rows import DepthSnapshotRow, DepthUpdateRow
from markets import USDM

MAX_BUFFERED = 20_000  # diffs held while a snapshot is fetched (minutes of 100 ms diffs)


class State(Enum):
    WAITING = "waiting"  # buffering diffs until a snapshot bridges them
    SYNCED = "synced"


@dataclass(frozen=True)
class Break:
    """A skipped id: the previous diff ended at ``prev_u`` and ``row`` does not chain to it."""

    prev_u: int
    row: DepthUpdateRow


class BookSync:
    """Feeds one symbol's diffs and snapshots into a ``Book`` and reports chain breaks."""

    def __init__(self, symbol: str, market: str = USDM) -> None:
        self.symbol = symbol
        self.market = market
        self.book = Book()
        self.state = State.WAITING
        self.buffer: list[DepthUpdateRow] = []
        self.prev_u: int | None = None  # u of the previous diff seen on the stream
        self.prev_time: dt.datetime | None = None  # its event time E
        # the connection carrying the diffs is down: the book may already be stale, so it is
        # not valid until the next diff shows (by chaining, or by breaking) where it stands
        self.stream_down = False
        self._bridge_needed = False

    @property
    def valid(self) -> bool:
        return self.state is State.SYNCED and not self.stream_down

    def on_diff(self, row: DepthUpdateRow) -> Break | None:
        """Returns a ``Break`` when this diff does not chain to the previous one."""
        self.stream_down = False
        if self.prev_u is not None and row.final_update_id <= self.prev_u:
            return None  # overlap after a reconnect: already seen
        brk = None
        if self.prev_u is not None and not self._chains(self.prev_u, row):
            brk = Break(self.prev_u, row)
            self._invalidate()
        self.prev_u, self.prev_time = row.final_update_id, row.time
        if self.state is State.WAITING:
            self.buffer.append(row)
            if len(self.buffer) > MAX_BUFFERED:
                del self.buffer[: len(self.buffer) - MAX_BUFFERED]
        elif not self._apply(row):
            self._invalidate()
            self.buffer.append(row)
        return brk

    def on_snapshot(self, snap: DepthSnapshotRow) -> bool:
        """Load a snapshot and replay the buffer; False if the snapshot cannot bridge it yet
        (it is older than the first buffered diff), in which case another one is needed."""
        self.book.load(snap)
        self._bridge_needed = True
        self.state = State.SYNCED
        pending, self.buffer = self.buffer, []
        for i, row in enumerate(pending):
            if row.final_update_id < snap.last_update_id:
                continue
            if not self._apply(row):
                self._invalidate()
                self.buffer = pending[i:]
                return False
        return True

    def reset(self) -> None:
        """Forget everything (a new connection: the next diff starts a new chain)."""
        self._invalidate()
        self.buffer.clear()
        self.prev_u = self.prev_time = None

    def _apply(self, row: DepthUpdateRow) -> bool:
        last = self.book.last_update_id
        if row.final_update_id < last or (self.market == "spot" and row.final_update_id == last):
            return True  # older than the book (spot: u <= lastUpdateId is dropped): nothing to do
        if self._bridge_needed:
            bridged = row.first_update_id <= last <= row.final_update_id or (
                row.prev_final_update_id == last
            )
            if self.market == "spot":
                bridged = row.first_update_id <= last + 1 <= row.final_update_id
            if not bridged:
                return False
            self._bridge_needed = False
        elif not self._chains(last, row):
            return False
        self.book.apply(row)
        return True

    def _chains(self, prev_u: int, row: DepthUpdateRow) -> bool:
        if self.market == "spot" or row.prev_final_update_id is None:
            return row.first_update_id == prev_u + 1
        return row.prev_final_update_id == prev_u

    def _invalidate(self) -> None:
        self.state = State.WAITING
        self._bridge_needed = False
