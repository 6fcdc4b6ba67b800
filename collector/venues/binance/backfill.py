"""Backfills aggTrade holes from REST ``/fapi/v1/aggTrades?fromId=`` in pages of 1,000.

A hole is recorded as a ``gap`` event when it opens. After a short grace period (late frames
from an overlapping connection fill most rollover holes by themselves) what is still missing is
fetched within the shared weight budget. Errors Binance recovers from (429, 418 bans, 5xx,
timeouts) are waited out for as long as the hole is within reach (48 hours on futures); only ids
Binance no longer serves are recorded as unrecoverable, never silently skipped.

The ``backfill`` row that closes a gap is recorded only once the rows that repair it are
committed: the ledger never says ``repaired`` of rows a crash could still lose.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from collector import metrics
from collector.events import EventLog
from collector.rows import AggTradeRow
from collector.venues.binance import parse
from collector.venues.binance.rest import BinanceRest, RestError
from collector.venues.binance.sequence import TradeSequence
from db.writer import CommitWatermark
from markets import USDM

log = logging.getLogger(__name__)

PAGE = 1000
RETRY_MAX = 30.0  # seconds between attempts at a page Binance failed to serve
# How long Binance serves a hole's ids by fromId: futures 48 h, spot without limit.
REACH_HOURS = {USDM: 48.0, "spot": float("inf")}
# A reconnected symbol with no trade this long after the connection is back is asked over REST.
QUIET_CHECK_AFTER = 2.0


class Backfiller:
    def __init__(
        self,
        rest: BinanceRest,
        put: Callable[[tuple], None],
        events: EventLog,
        sequences: dict[str, TradeSequence],
        clock: Callable[[], dt.datetime],
        *,
        market: str = USDM,
        grace: float = 2.0,
        watermark: CommitWatermark | None = None,
        committed: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.rest = rest
        self.put = put
        self.events = events
        self.sequences = sequences
        self.clock = clock
        self.market = market
        self.grace = grace
        self.watermark = watermark  # held from a hole's detection until its repair is committed
        self.committed = committed  # waits until agg_trades rows put before a time.time() are
        self.reach = REACH_HOURS[market] * 3600
        self._queue: asyncio.Queue[tuple[float, str, int, int, uuid.UUID]] = asyncio.Queue()
        self._checks: asyncio.Queue[tuple[float, list[str], Callable[[str], bool]]] = (
            asyncio.Queue()
        )

    def on_hole(
        self,
        symbol: str,
        first: int,
        last: int,
        reason: str | None = None,
        span: tuple[dt.datetime | None, dt.datetime] | None = None,
    ) -> None:
        ref = uuid.uuid4()
        details: dict[str, object] = {"missing": last - first + 1}
        if reason is not None:
            details["reason"] = reason
        if span is None and reason is None and symbol in self.sequences:
            span = self.sequences[symbol].span
        self.events.record(
            "gap",
            details,
            symbol=symbol,
            market=self.market,
            stream="agg_trades",
            first_id=first,
            last_id=last,
            start_time=span[0] if span else None,
            end_time=span[1] if span else None,
            status="open",
            ref=ref,
        )
        log.warning("%s: aggTrade ids %d..%d missing; backfilling", symbol, first, last)
        if self.watermark is not None:
            self.watermark.hold(ref)
        self._queue.put_nowait((time.monotonic() + self.grace, symbol, first, last, ref))

    def refetch(
        self,
        symbol: str,
        first: int,
        last: int,
        reason: str,
        span: tuple[dt.datetime | None, dt.datetime] | None = None,
    ) -> None:
        """Ids this run received but could not store, or found missing and undeclared at start
        (``reason``): a hole to declare and backfill."""
        self.sequences[symbol].reopen(first, last)
        self.on_hole(symbol, first, last, reason, span)

    def resume(self, symbol: str, first: int, last: int, ref: uuid.UUID) -> None:
        """Backfill a hole an earlier run recorded (``ref``) but died before repairing."""
        self.sequences[symbol].reopen(first, last)
        log.warning(
            "%s: aggTrade ids %d..%d left open by the last run; backfilling", symbol, first, last
        )
        self._queue.put_nowait((time.monotonic(), symbol, first, last, ref))

    def check_quiet(self, symbols: list[str], quiet: Callable[[str], bool]) -> None:
        """After a reconnect: a symbol that has not traded since may have traded while the
        connection was down, and its next live trade (which would show the hole) may be minutes
        away. Its newest id is asked over REST (weight 20 each, inside the shared budget)."""
        self._checks.put_nowait((time.monotonic() + QUIET_CHECK_AFTER, symbols, quiet))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._repairs())
            tg.create_task(self._quiet_checks())

    async def _repairs(self) -> None:
        while True:
            due, symbol, first, last, ref = await self._queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self._repair(symbol, first, last, ref)

    async def _quiet_checks(self) -> None:
        while True:
            due, symbols, quiet = await self._checks.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            for symbol in symbols:
                seq = self.sequences.get(symbol)
                if seq is not None and seq.last_id is not None and quiet(symbol):
                    await self._check_newest(symbol, seq)

    async def _check_newest(self, symbol: str, seq: TradeSequence) -> None:
        try:
            page = await self.rest.newest_agg_trades(symbol, 1)
        except RestError as exc:
            log.warning("%s: newest aggTrade id not available: %s", symbol, exc)
            return
        rows = self._rows(page, symbol, self.clock())
        last = seq.last_id
        if not rows or last is None or rows[-1].agg_trade_id <= last:
            return  # nothing traded meanwhile (or the live stream has caught up)
        newest = rows[-1]
        seq.holes.append([last + 1, newest.agg_trade_id])  # the newest itself comes by backfill
        seq.span = (seq.last_time, newest.time)
        seq.last_id, seq.last_time = newest.agg_trade_id, newest.time
        metrics.GAPS.labels(("" if self.market == USDM else f"{self.market}:") + "agg_trades").inc()
        self.on_hole(symbol, last + 1, newest.agg_trade_id)

    async def _repair(self, symbol: str, first: int, last: int, ref: uuid.UUID) -> None:
        seq = self.sequences[symbol]
        missing = seq.missing_within(first, last)
        recovered, lost = 0, []
        reach_until = time.time() + self.reach  # from now at the least: it was seen recently
        for lo, hi in missing:
            got, gone = await self._fetch_range(symbol, lo, hi, reach_until)
            recovered += got
            lost.extend(gone)
            seq.mark_filled(lo, hi)
        filled_live = (last - first + 1) - sum(hi - lo + 1 for lo, hi in missing)
        status = (
            "repaired" if not lost else ("partial" if recovered or filled_live else "unrecoverable")
        )
        if self.committed is not None:  # every row put so far, the repair's too, is committed
            await self.committed(time.time())
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

    async def _fetch_range(
        self, symbol: str, lo: int, hi: int, reach_until: float
    ) -> tuple[int, list[list[int]]]:
        """Fetch ids lo..hi; returns (rows recovered, [first, last] ranges no longer served)."""
        got, lost, want = 0, [], lo
        while want <= hi:
            page = await self._page(symbol, want, hi, reach_until)
            if page is None:
                lost.append([want, hi])
                break
            received_at = self.clock()
            rows = self._rows(page, symbol, received_at)
            if not rows or rows[0].agg_trade_id > hi:
                lost.append([want, hi])  # older than the 48 h window, or never served
                break
            start = want
            for row in rows:
                a = row.agg_trade_id
                if a > hi:
                    break
                if a < want:
                    continue
                if a > want:  # not served, or served malformed
                    lost.append([want, a - 1])
                self.put(row)
                got += 1
                metrics.BACKFILLED.inc()
                want = a + 1
            if want == start or (rows[-1].agg_trade_id > hi and want <= hi):
                lost.append([want, hi])  # the page ends past the hole without these ids
                break
        return got, lost

    def _rows(self, page: Any, symbol: str, received_at: dt.datetime) -> list[AggTradeRow]:
        """The page's trades by id; a malformed one is counted, logged and left out (its id
        becomes part of the unrecoverable range)."""
        rows = []
        for t in page if type(page) is list else []:
            try:
                rows.append(parse.rest_agg_trade(t, symbol, received_at, self.market))
            except (KeyError, ValueError, TypeError, OverflowError) as exc:
                metrics.MALFORMED.labels("bad_rest_aggTrade").inc()
                log.warning("%s: malformed aggTrade from REST (%s): %.300r", symbol, exc, t)
        return sorted(rows, key=lambda r: r.agg_trade_id)

    async def _page(self, symbol: str, want: int, hi: int, reach_until: float) -> list | None:
        """One page from ``want``; recoverable errors are retried while the ids are within
        reach. None: Binance refused for good (a 4xx) or the ids went out of reach."""
        delay = 1.0
        while True:
            try:
                return await self.rest.agg_trades(symbol, want, PAGE)
            except RestError as exc:
                recoverable = exc.status in (0, 408, 418, 429) or exc.status >= 500
                if not recoverable or time.time() + delay > reach_until:
                    log.error("%s: backfill of %d..%d failed: %s", symbol, want, hi, exc)
                    return None
                log.warning("%s: backfill of %d..%d: %s; retrying", symbol, want, hi, exc)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, RETRY_MAX)
