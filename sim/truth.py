"""Ground truth: what the simulator produced, kept so tests can compare a client's view with it.

Recording costs memory, so the feed only records when the simulator is built with
``record_truth=True`` (tests do). Episodes are always known (they come from the script).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sim.book import ASK, BID, OrderBook, Side
from sim.instruments import Instrument


class Truth:
    """Everything produced per symbol: trades, depth events, book changes, marks, liquidations."""

    def __init__(self) -> None:
        self.agg_trades: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.depth_events: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        self.mark_prices: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.force_orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.open_interest: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._instruments: dict[str, Instrument] = {}
        self._base: dict[str, tuple[int, OrderBook]] = {}
        self._changes: dict[str, list[tuple[int, Side, int, int]]] = defaultdict(list)

    def start_book(self, instrument: Instrument, update_id: int, book: OrderBook) -> None:
        """Remember the book a symbol starts with; ``book_at`` replays changes on top of it."""
        self._instruments[instrument.symbol] = instrument
        self._base[instrument.symbol] = (update_id, book.copy())

    def book_change(self, symbol: str, uid: int, changes: list[tuple[Side, int, int]]) -> None:
        log = self._changes[symbol]
        for side, tick, lots in changes:
            log.append((uid, side, tick, lots))

    def book_at(self, symbol: str, update_id: int) -> dict[str, Any]:
        """The simulator's full book after every update with id ≤ ``update_id``.

        Same shape as REST depth: ``{"lastUpdateId", "bids": [[p, q]...], "asks": [...]}``, best
        first. ``lastUpdateId`` is the last update id actually applied.
        """
        start_uid, base = self._base[symbol]
        if update_id < start_uid:
            raise ValueError(
                f"{symbol}: update {update_id} is before the recorded start {start_uid}"
            )
        book = base.copy()
        last = start_uid
        for uid, side, tick, lots in self._changes[symbol]:
            if uid > update_id:
                break
            book.set(side, tick, lots)
            last = uid
        return render_book(self._instruments[symbol], book, last)

    def summary(self) -> dict[str, Any]:
        return {
            "agg_trades": {s: len(v) for s, v in self.agg_trades.items()},
            "depth_events": {f"{s}@{ms}ms": len(v) for (s, ms), v in self.depth_events.items()},
            "mark_prices": {s: len(v) for s, v in self.mark_prices.items()},
            "force_orders": {s: len(v) for s, v in self.force_orders.items()},
            "book_changes": {s: len(v) for s, v in self._changes.items()},
        }


def render_book(
    instrument: Instrument, book: OrderBook, last_update_id: int, limit: int | None = None
) -> dict[str, Any]:
    """A book as Binance renders depth: decimal strings, best level first."""
    n = max(book.depth(BID), book.depth(ASK)) if limit is None else limit
    price, qty = instrument.price_str, instrument.qty_str
    return {
        "lastUpdateId": last_update_id,
        "bids": [[price(t), qty(q)] for t, q in book.top(BID, n)],
        "asks": [[price(t), qty(q)] for t, q in book.top(ASK, n)],
    }
