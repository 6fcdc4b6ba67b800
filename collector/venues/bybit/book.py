"""Bybit's order-book sync rule, per ``orderbook.{depth}.{symbol}`` topic.

There is no REST bridging as on Binance: the WebSocket snapshot is the sync point.

- A snapshot replaces the book, whatever came before (a new subscription, or Bybit re-sending
  one). One with ``u == 1`` is a service restart: a reset, not a gap.
- A delta applies only when its ``u`` is the previous ``u`` + 1. Anything else — a jump, a step
  back, a delta with ``u == 1`` (a restart whose snapshot we did not get) — breaks the chain: the
  book is invalid until the next snapshot, which the caller obtains by subscribing anew.
- Deltas carry absolute sizes; size 0 deletes a level (also a level leaving the top ``depth``).
"""

from __future__ import annotations

import heapq
from enum import Enum
from typing import NamedTuple

from collector.venues.bybit.rows import BookRow


class Outcome(Enum):
    SNAPSHOT = "snapshot"  # the book was (re)loaded
    RESET = "reset"  # a snapshot with u == 1: Bybit's service restarted
    APPLIED = "applied"  # a delta chained and was applied
    GAP = "gap"  # a delta did not chain: resubscribe for a snapshot
    WAITING = "waiting"  # a delta while no snapshot holds the book: ignored


class Gap(NamedTuple):
    """The chain broke: the book held ``prev_u``, then came ``u``."""

    prev_u: int
    u: int


class BybitBook:
    """One topic's book (price -> size per side) and where its chain stands."""

    __slots__ = ("asks", "bids", "gap", "seq", "synced", "update_id")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.update_id: int | None = None  # u of the last message applied
        self.seq: int | None = None
        self.synced = False
        self.gap: Gap | None = None  # the last break, until the next snapshot

    def on_message(self, row: BookRow) -> Outcome:
        if row.snapshot:
            self.bids = _side({}, row.bid_prices, row.bid_qtys)
            self.asks = _side({}, row.ask_prices, row.ask_qtys)
            self._at(row)
            self.synced, self.gap = True, None
            return Outcome.RESET if row.update_id == 1 else Outcome.SNAPSHOT
        if not self.synced:
            return Outcome.WAITING
        assert self.update_id is not None
        if row.update_id != self.update_id + 1:
            self.gap = Gap(self.update_id, row.update_id)
            self.synced = False
            return Outcome.GAP
        _side(self.bids, row.bid_prices, row.bid_qtys)
        _side(self.asks, row.ask_prices, row.ask_qtys)
        self._at(row)
        return Outcome.APPLIED

    def invalidate(self) -> None:
        """The connection carrying the topic is gone: wait for the next snapshot."""
        self.synced = False

    def top(self, n: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """Best ``n`` levels per side, best first: (bid_px, bid_qty, ask_px, ask_qty)."""
        bid_px = heapq.nlargest(n, self.bids)
        ask_px = heapq.nsmallest(n, self.asks)
        return bid_px, [self.bids[p] for p in bid_px], ask_px, [self.asks[p] for p in ask_px]

    def _at(self, row: BookRow) -> None:
        self.update_id = row.update_id
        self.seq = row.seq


def _side(levels: dict[float, float], prices: list[float], qtys: list[float]) -> dict[float, float]:
    for price, qty in zip(prices, qtys, strict=True):
        if qty == 0.0:
            levels.pop(price, None)
        else:
            levels[price] = qty
    return levels
