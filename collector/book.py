"""The local order book of one symbol: price -> quantity per side, plain dicts, never a
DataFrame. Which diffs may be applied, and when a snapshot bridges them, is the venue's sync rule
(``collector.venues.binance.book``)."""

from __future__ import annotations

import heapq

from collector.rows import DepthSnapshotRow, DepthUpdateRow


class Book:
    """Price -> quantity on each side; quantities are absolute, 0 removes the level."""

    __slots__ = ("asks", "bids", "event_time", "last_update_id")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.last_update_id = -1
        self.event_time = None

    def load(self, snap: DepthSnapshotRow) -> None:
        bids = zip(snap.bid_prices, snap.bid_qtys, strict=True)
        asks = zip(snap.ask_prices, snap.ask_qtys, strict=True)
        self.bids = {p: q for p, q in bids if q > 0}
        self.asks = {p: q for p, q in asks if q > 0}
        self.last_update_id = snap.last_update_id
        self.event_time = snap.event_time

    def apply(self, row: DepthUpdateRow) -> None:
        _apply_side(self.bids, row.bid_prices, row.bid_qtys)
        _apply_side(self.asks, row.ask_prices, row.ask_qtys)
        self.last_update_id = row.final_update_id
        self.event_time = row.time

    def top(self, n: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """Best ``n`` levels per side, best first: (bid_px, bid_qty, ask_px, ask_qty)."""
        bid_px = heapq.nlargest(n, self.bids)
        ask_px = heapq.nsmallest(n, self.asks)
        return bid_px, [self.bids[p] for p in bid_px], ask_px, [self.asks[p] for p in ask_px]


def _apply_side(side: dict[float, float], prices: list[float], qtys: list[float]) -> None:
    for price, qty in zip(prices, qtys, strict=True):
        if qty == 0.0:
            side.pop(price, None)  # removing an unknown level is normal (Binance docs)
        else:
            side[price] = qty
