"""A price-level limit order book in integer ticks (price) and lots (quantity)."""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Literal

Side = Literal["b", "a"]  # the payload keys: "b" bids, "a" asks
BID: Side = "b"
ASK: Side = "a"


class OrderBook:
    """Aggregated depth: one quantity per price level, like Binance's depth streams show it.

    Each side is a dict (tick → lots) plus an ascending list of its ticks, so the best level and
    the top N levels are cheap. Bids' best is the last element, asks' best the first.
    """

    __slots__ = ("_ticks", "asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._ticks: dict[Side, list[int]] = {BID: [], ASK: []}

    def side(self, side: Side) -> dict[int, int]:
        return self.bids if side == BID else self.asks

    def set(self, side: Side, tick: int, lots: int) -> None:
        """Set a level's absolute quantity; 0 removes it."""
        levels = self.side(side)
        ticks = self._ticks[side]
        if lots <= 0:
            if levels.pop(tick, None) is not None:
                del ticks[bisect_left(ticks, tick)]
            return
        if tick not in levels:
            insort(ticks, tick)
        levels[tick] = lots

    def qty(self, side: Side, tick: int) -> int:
        return self.side(side).get(tick, 0)

    def best_bid(self) -> int | None:
        ticks = self._ticks[BID]
        return ticks[-1] if ticks else None

    def best_ask(self) -> int | None:
        ticks = self._ticks[ASK]
        return ticks[0] if ticks else None

    def depth(self, side: Side) -> int:
        return len(self._ticks[side])

    def tick_at(self, side: Side, index: int) -> int:
        """The tick of the ``index``-th best level (0 = best)."""
        ticks = self._ticks[side]
        return ticks[-1 - index] if side == BID else ticks[index]

    def worst(self, side: Side) -> int:
        ticks = self._ticks[side]
        return ticks[0] if side == BID else ticks[-1]

    def top(self, side: Side, n: int) -> list[tuple[int, int]]:
        """The best ``n`` levels of one side, best first, as (tick, lots)."""
        ticks = self._ticks[side]
        chosen = ticks[: -n - 1 : -1] if side == BID else ticks[:n]
        levels = self.side(side)
        return [(t, levels[t]) for t in chosen]

    def copy(self) -> OrderBook:
        other = OrderBook()
        other.bids = dict(self.bids)
        other.asks = dict(self.asks)
        other._ticks = {BID: list(self._ticks[BID]), ASK: list(self._ticks[ASK])}
        return other

    def sweep(
        self, taker_buys: bool, lots: int, limit_tick: int | None = None
    ) -> list[tuple[int, int, int]]:
        """Take up to ``lots`` from the opposite side, best level first.

        Returns (tick, filled lots, lots left at that level) per level touched; stops at
        ``limit_tick`` if given (an IOC limit order, as liquidations are).
        """
        side: Side = ASK if taker_buys else BID
        levels = self.side(side)
        fills: list[tuple[int, int, int]] = []
        while lots > 0 and levels:
            tick = self.best_ask() if taker_buys else self.best_bid()
            assert tick is not None
            if limit_tick is not None and (tick > limit_tick if taker_buys else tick < limit_tick):
                break
            available = levels[tick]
            filled = min(available, lots)
            lots -= filled
            self.set(side, tick, available - filled)
            fills.append((tick, filled, available - filled))
        return fills
