"""aggTrades the spool could not take (database down, SPOOL_MAX_BYTES reached) are fetched again.

Other rows dropped that way are lost and recorded as an unrecoverable gap. aggTrades are not: their
ids are consecutive and REST serves them by id for 48 hours, so the ids dropped per symbol become a
hole that the market's backfiller repairs once the database takes writes again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from collector.backfill import Backfiller
from collector.rows import AggTradeRow

log = logging.getLogger(__name__)

_MARKET, _SYMBOL, _ID = (AggTradeRow._fields.index(f) for f in ("market", "symbol", "agg_trade_id"))


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
            backfiller.refetch(symbol, lo, hi, reason="spool full")
            del self._ranges[(market, symbol)]
        return True
