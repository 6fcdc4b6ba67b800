"""Rows the spool could not take (database down, SPOOL_MAX_BYTES reached), made good or declared.

aggTrades are fetched again: their ids are consecutive and REST serves them by id for 48 hours,
so the ids dropped per symbol become a hole that the market's backfiller repairs once the database
takes writes again. Depth diffs cannot be fetched again, but they carry ids too: the ids dropped
per symbol are declared as that symbol's gap, and a snapshot stored after it closes it (a replay
of the stored diffs goes on from there). Other rows dropped that way are lost and declared as an
unrecoverable gap by time span.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from collector.depth import DepthKeeper
from collector.resume import Hole
from collector.rows import AggTradeRow, DepthUpdateRow
from collector.venues.binance.backfill import Backfiller

log = logging.getLogger(__name__)

SPOOL_FULL = "spool full"
_MARKET, _SYMBOL, _ID = (AggTradeRow._fields.index(f) for f in ("market", "symbol", "agg_trade_id"))
_D = {f: DepthUpdateRow._fields.index(f) for f in DepthUpdateRow._fields}


class DroppedTrades:
    def __init__(self) -> None:
        self.backfillers: dict[str, Backfiller] = {}  # market -> its backfiller, once running
        self._ranges: dict[tuple[str, str], list[int]] = {}  # (market, symbol) -> [lo, hi]

    def add(self, rows: Sequence[tuple]) -> None:
        """Dropped agg_trades rows (called as they are dropped: only ids are kept)."""
        for row in rows:
            key, trade_id = (row[_MARKET], row[_SYMBOL]), row[_ID]
            span = self._ranges.get(key)
            if span is None:
                self._ranges[key] = [trade_id, trade_id]
            else:
                span[0], span[1] = min(span[0], trade_id), max(span[1], trade_id)

    def refetch(self) -> bool:
        """Hand each symbol's dropped ids to its backfiller; False if one has none (yet)."""
        for (market, symbol), (lo, hi) in list(self._ranges.items()):
            backfiller = self.backfillers.get(market)
            if backfiller is None or symbol not in backfiller.sequences:
                return False
            backfiller.refetch(symbol, lo, hi, reason=SPOOL_FULL)
            del self._ranges[(market, symbol)]
        return True


class DroppedDiffs:
    def __init__(self) -> None:
        self.keepers: dict[str, DepthKeeper] = {}  # market -> its depth keeper, once running
        self._holes: dict[tuple[str, str], Hole] = {}  # (market, symbol) -> ids and times

    def add(self, rows: Sequence[tuple]) -> None:
        """Dropped depth_updates rows (called as they are dropped: only ids and times are kept).
        A diff's missing ids start after the ``u`` it follows (futures' ``pu``, spot's U - 1)."""
        for row in rows:
            key, pu = (row[_D["market"]], row[_D["symbol"]]), row[_D["prev_final_update_id"]]
            lo = pu + 1 if pu is not None else row[_D["first_update_id"]]
            hi, time = row[_D["final_update_id"]], row[_D["time"]]
            h = self._holes.get(key)
            if h is None:
                self._holes[key] = Hole(key[1], lo, hi, time, time)
            else:
                self._holes[key] = Hole(
                    h.symbol, min(h.first_id, lo), max(h.last_id, hi),
                    min(h.after, time), max(h.before, time),
                )  # fmt: skip

    def declare(self) -> bool:
        """Declare each symbol's dropped ids as its gap with its market's keeper, which stores a
        snapshot to close it; False if a market has no keeper yet (the caller declares them by
        time span instead, so they are forgotten here)."""
        if any(market not in self.keepers for market, _ in self._holes):
            self._holes.clear()
            return False
        for (market, _), hole in self._holes.items():
            self.keepers[market].declare_dropped(hole, SPOOL_FULL)
        self._holes.clear()
        return True


@dataclass
class Drops:
    """The tables whose dropped rows are made good or declared by id, and their keepers."""

    trades: DroppedTrades = field(default_factory=DroppedTrades)
    diffs: DroppedDiffs = field(default_factory=DroppedDiffs)

    def attach(self, market: str, backfiller: Backfiller, keeper: DepthKeeper) -> None:
        """A market's backfiller and keeper are running: drops reported from now on go to them."""
        self.trades.backfillers[market] = backfiller
        self.diffs.keepers[market] = keeper

    def collector(self, table: str) -> Callable[[Sequence[tuple]], None] | None:
        """What keeps the ids of a table's rows as they are dropped (None: only counted)."""
        return {"agg_trades": self.trades.add, "depth_updates": self.diffs.add}.get(table)

    def handled(self, table: str) -> bool:
        """The table's drops were handed on (refetched or declared by ids); False: declare them
        by time span."""
        if table == "agg_trades":
            return self.trades.refetch()
        if table == "depth_updates":
            return self.diffs.declare()
        return False
