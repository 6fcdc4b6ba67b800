"""Which venue's recorded rows the worker and the backtest read, and how they replay its books.

One worker (or backtest) reads one venue (STRATEGY_VENUE / [worker] venue): every read of
trades, depth, book_top, mark prices, open interest and liquidations is filtered on it and its
market, and its books are replayed by its own sync rule:

- Binance USD-M: a REST snapshot bridged by diffs, each diff chaining by ``pu`` (the recorder's
  own rule, ``collector.venues.binance.book.BookSync``).
- Bybit linear: every WebSocket snapshot (also a ``u == 1`` reset) replaces the book; a delta
  applies when its ``u`` is the book's + 1, one the book already holds is skipped, a jump breaks
  the book until the next snapshot. The recorder stores each delta with first = final = ``u``
  and a snapshot's ``u`` as its last_update_id, so the rule reads the stored rows directly.

Trades of one venue are read in one total order, the same live and in a backtest: by time, then
Binance's aggregate id, or Bybit's cross sequence and then its trade UUID (several trades of one
taker order share a sequence number).
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.book import Book
from collector.rows import DepthSnapshotRow, DepthUpdateRow
from collector.venues.binance.book import BookSync
from markets import USDM

MAX_BUFFERED = 20_000  # deltas held while no snapshot holds the book


@dataclass(frozen=True)
class Venue:
    name: str
    market: str  # the `market` its futures rows are stored under
    trade_order: str  # SQL: how trades of one symbol and millisecond are ordered
    archived: bool  # whether db/archive writes its rows to Parquet (only Binance's so far)


VENUES = {
    "binance": Venue("binance", USDM, "agg_trade_id", archived=True),
    "bybit": Venue("bybit", "linear", "(extra->>'seq')::bigint, trade_uuid", archived=False),
}
BINANCE = VENUES["binance"]


class BybitSync:
    """Bybit's replay rule over stored rows, with ``BookSync``'s interface (``valid``,
    ``book``, ``on_diff``, ``on_snapshot``). Deltas that come while no snapshot holds the book
    are kept, so one stored at the snapshot's own millisecond (read before it) still chains."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book = Book()
        self.valid = False
        self.buffer: list[DepthUpdateRow] = []

    def on_diff(self, row: DepthUpdateRow) -> None:
        u, last = row.final_update_id, self.book.last_update_id
        if self.valid and u == last + 1:
            self.book.apply(row)
            return
        if self.valid and u <= last:
            return  # the snapshot already holds it (read before it at the same millisecond)
        self.valid = False  # a jump, or a delta while no snapshot holds the book
        self.buffer.append(row)
        if len(self.buffer) > MAX_BUFFERED:
            del self.buffer[: len(self.buffer) - MAX_BUFFERED]

    def on_snapshot(self, snap: DepthSnapshotRow) -> None:
        """Replaces the book, unless the book is already past it (a reset's u == 1 is not)."""
        if self.valid and 1 < snap.last_update_id <= self.book.last_update_id:
            return
        self.book.load(snap)
        self.valid = True
        pending, self.buffer = self.buffer, []
        for row in pending:  # only those continuing this snapshot; older ones are done with
            if row.final_update_id == self.book.last_update_id + 1:
                self.book.apply(row)


def book_sync(venue: Venue, symbol: str) -> BookSync | BybitSync:
    """A replay of `symbol`'s recorded book by `venue`'s sync rule."""
    if venue.name == "bybit":
        return BybitSync(symbol)
    return BookSync(symbol, venue.market)
