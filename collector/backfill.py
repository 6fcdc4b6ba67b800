"""Backfills aggTrade holes from REST ``/fapi/v1/aggTrades?fromId=`` in pages of 1,000.

A hole is recorded as a ``gap`` event when it opens. After a short grace period (late frames
from an overlapping connection fill most rollover holes by themselves) what is still missing is
fetched within the shared weight budget. Binance serves only the last 48 hours there: ids it no
longer has are recorded as unrecoverable, never silently skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable

from collector import metrics, parse
from collector.events import EventLog
from collector.rest import BinanceRest, RestError
from collector.sequence import TradeSequence
from db.writer import CommitWatermark

log = logging.getLogger(__name__)

PAGE = 1000


class Backfiller:
    def __init__(
        self,
        rest: BinanceRest,
        put: Callable[[tuple], None],
        events: EventLog,
        sequences: dict[str, TradeSequence],
        clock: Callable[[], dt.datetime],
        *,
        market: str = "usdm",
        grace: float = 2.0,
        watermark: CommitWatermark | None = None,
    ) -> None:
        self.rest = rest
        self.put = put
        self.events = events
        self.sequences = sequences
        self.clock = clock
        self.market = market
        self.grace = grace
        self.watermark = watermark  # held from a hole's detection until its repair is committed
        self._queue: asyncio.Queue[tuple[float, str, int, int, uuid.UUID]] = asyncio.Queue()

    def on_hole(self, symbol: str, first: int, last: int, reason: str | None = None) -> None:
        ref = uuid.uuid4()
        details: dict[str, object] = {"missing": last - first + 1}
        if reason is not None:
            details["reason"] = reason
        self.events.record(
            "gap",
            details,
            symbol=symbol,
            market=self.market,
            stream="agg_trades",
            first_id=first,
            last_id=last,
            status="open",
            ref=ref,
        )
        log.warning("%s: aggTrade ids %d..%d missing; backfilling", symbol, first, last)
        if self.watermark is not None:
            self.watermark.hold(ref)
        self._queue.put_nowait((time.monotonic() + self.grace, symbol, first, last, ref))

    def refetch(self, symbol: str, first: int, last: int, reason: str) -> None:
        """Ids this run received but could not store (``reason``): a hole to backfill."""
        self.sequences[symbol].reopen(first, last)
        self.on_hole(symbol, first, last, reason)

    def resume(self, symbol: str, first: int, last: int, ref: uuid.UUID) -> None:
        """Backfill a hole an earlier run recorded (``ref``) but died before repairing."""
        self.sequences[symbol].reopen(first, last)
        log.warning(
            "%s: aggTrade ids %d..%d left open by the last run; backfilling", symbol, first, last
        )
        self._queue.put_nowait((time.monotonic(), symbol, first, last, ref))

    async def run(self) -> None:
        while True:
            due, symbol, first, last, ref = await self._queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self._repair(symbol, first, last, ref)

    async def _repair(self, symbol: str, first: int, last: int, ref: uuid.UUID) -> None:
        seq = self.sequences[symbol]
        missing = seq.missing_within(first, last)
        recovered, lost = 0, []
        for lo, hi in missing:
            got, gone = await self._fetch_range(symbol, lo, hi)
            recovered += got
            lost.extend(gone)
            seq.mark_filled(lo, hi)
        filled_live = (last - first + 1) - sum(hi - lo + 1 for lo, hi in missing)
        status = (
            "repaired" if not lost else ("partial" if recovered or filled_live else "unrecoverable")
        )
        self.events.record(
            "backfill",
            {"recovered": recovered, "late_frames": filled_live, "unrecoverable": lost},
            symbol=symbol,
            market=self.market,
            stream="agg_trades",
            first_id=first,
            last_id=last,
            status=status,
            ref=ref,
        )
        log.info("%s: hole %d..%d %s (%d from REST)", symbol, first, last, status, recovered)
        if self.watermark is not None:  # the rows are put; the hold ends when they are committed
            self.watermark.release(ref)

    async def _fetch_range(self, symbol: str, lo: int, hi: int) -> tuple[int, list[list[int]]]:
        """Fetch ids lo..hi; returns (rows recovered, [first, last] ranges no longer served)."""
        got, lost, want = 0, [], lo
        while want <= hi:
            try:
                page = await self.rest.agg_trades(symbol, want, PAGE)
            except RestError as exc:
                log.error("%s: backfill of %d..%d failed: %s", symbol, want, hi, exc)
                lost.append([want, hi])
                break
            received_at = self.clock()
            ids = [int(t["a"]) for t in page]
            if not ids or ids[0] > hi:
                lost.append([want, hi])  # older than the 48 h window, or never served
                break
            if ids[0] > want:
                lost.append([want, ids[0] - 1])
            for t in page:
                if want <= t["a"] <= hi:
                    self.put(parse.rest_agg_trade(t, symbol, received_at, self.market))
                    got += 1
            metrics.BACKFILLED.inc(sum(1 for a in ids if want <= a <= hi))
            want = ids[-1] + 1
        return got, lost
