"""Bybit trade continuity across a reconnect: what the REST window can prove, and what it cannot.

Bybit's trade ids are UUIDs, not a sequence: a hole cannot be seen in the ids as Binance's
consecutive aggTrade ids show it. After a reconnect the only way back is REST
``/v5/market/recent-trade``, which holds the last 1,000 trades whatever their age. When the
stream breaks, the ledger keeps the newest trade seen before the break (``cut``); then, with the
window fetched after the reconnect (``splice``):

- if the window holds that trade, it covers the whole outage: its trades not seen yet are
  exactly the missed ones (``proven``);
- if it holds fewer trades than asked for, it is all the venue keeps: nothing can be missing
  beyond it either (``proven``);
- otherwise the outage outlasted the window: trades between that last one seen and the window's
  oldest may be lost and must be declared (``gap``), never assumed away.

Trades the new connection delivers meanwhile are fine on either side: repeats are dropped by id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from collector.venues.bybit.rows import TradeRow


class Splice(NamedTuple):
    rows: list[TradeRow]  # the window's trades not seen before, oldest first
    proven: bool  # nothing between the cut and the window is missing
    gap: tuple[dt.datetime, dt.datetime] | None  # (last seen, window's oldest) when not proven


class TradeLedger:
    """One symbol's latest trade ids: to drop repeats, and to splice a REST window on."""

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self._order: deque[uuid.UUID] = deque()
        self._ids: set[uuid.UUID] = set()
        self.newest: TradeRow | None = None
        self.anchor: TradeRow | None = None  # the newest trade seen before the last cut

    def fresh(self, rows: Iterable[TradeRow]) -> list[TradeRow]:
        """Record ``rows`` (oldest first); return the ones not seen before."""
        new = []
        for row in rows:
            if row.trade_id in self._ids:
                continue
            new.append(row)
            self._ids.add(row.trade_id)
            self._order.append(row.trade_id)
            if len(self._order) > self.keep:
                self._ids.discard(self._order.popleft())
            if self.newest is None or row.time >= self.newest.time:
                self.newest = row
        return new

    def resume(self, row: TradeRow) -> None:
        """The newest trade an earlier run stored: what this run records must be proven to join
        onto it, as after a cut."""
        self.newest = self.anchor = row

    def cut(self) -> None:
        """The stream broke: what follows must be proven to join onto the trade seen last."""
        if self.anchor is None:  # a second break before the splice keeps the first anchor
            self.anchor = self.newest

    def splice(self, window: list[TradeRow], asked: int) -> Splice:
        """Splice the REST window (oldest first; ``asked``: the limit requested) onto the
        trades seen before the cut, and record its new trades."""
        anchor, self.anchor = self.anchor, None
        reaches = anchor is not None and any(r.trade_id == anchor.trade_id for r in window)
        proven = anchor is None or reaches or len(window) < asked
        gap = None
        if not proven and anchor is not None:
            gap = (anchor.time, window[0].time)
        # ids forgotten (beyond ``keep``) come back as new rows: the natural key drops them
        return Splice(self.fresh(window), proven, gap)
