"""Books for every symbol: snapshots (start, resync, periodic), gap records, ``book_top`` rows.

Snapshots are fetched one at a time through the shared REST weight budget, so a reconnect that
invalidates every book does not become a snapshot storm (the classic cause of 418 bans).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from collector import metrics
from collector.events import EventLog
from collector.resume import UNDECLARED, Hole
from collector.rows import BookTopRow, book_top_row
from collector.venues.binance import parse
from collector.venues.binance.book import BookSync, Break
from collector.venues.binance.rest import BinanceRest, RestError
from markets import USDM

log = logging.getLogger(__name__)

# A snapshot's reason when the live book is whole but the stored diffs have a hole (rows dropped):
# stored so a replay goes on from it, and not loaded into the live book.
AFTER_HOLE = "after_hole"


class DepthKeeper:
    def __init__(
        self,
        symbols: list[str],
        rest: BinanceRest,
        put: Callable[[tuple], None],
        events: EventLog,
        clock: Callable[[], dt.datetime],
        *,
        market: str = USDM,
        top_levels: int = 20,
        top_interval: float = 1.0,
        snapshot_interval: float = 3600.0,
        snapshot_limit: int = 1000,
        last_update_ids: dict[str, tuple[int, dt.datetime]] | None = None,
    ) -> None:
        self.rest = rest
        self.put = put
        self.events = events
        self.clock = clock
        self.market = market
        self.top_levels = top_levels
        self.top_interval = top_interval
        self.snapshot_interval = snapshot_interval
        self.snapshot_limit = snapshot_limit
        self.books = {s: BookSync(s, market) for s in symbols}
        for symbol, (u, time) in (last_update_ids or {}).items():
            # the last diff stored by an earlier run: the first one received now must chain to
            # it, or the diffs missed while the recorder was down are recorded as a gap
            self.books[symbol].prev_u, self.books[symbol].prev_time = u, time
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._pending: set[str] = set()
        # symbol -> refs of the gaps awaiting a snapshot: every break is declared on its own, even
        # while a resync is pending, and the snapshot that brings the book back closes them all
        self._open_gaps: dict[str, list[uuid.UUID]] = {}

    def label(self, symbol: str) -> str:
        """The metrics label of a symbol's book: spot's are "spot:BTCUSDT"."""
        return symbol if self.market == USDM else f"{self.market}:{symbol}"

    def add(self, symbol: str) -> None:
        """A symbol joined the universe: buffer its diffs and fetch a snapshot."""
        if symbol not in self.books:
            self.books[symbol] = BookSync(symbol, self.market)
            self.request(symbol, "start")

    def remove(self, symbol: str) -> None:
        """A symbol left the universe: its book, pending snapshot and open gap are dropped."""
        self.books.pop(symbol, None)
        self._open_gaps.pop(symbol, None)
        self._pending.discard(symbol)

    def on_invalid(self, symbol: str, brk: Break | None) -> None:
        """Called for every diff while a book is not valid; records every break, asks once."""
        if brk is not None:
            pu = brk.row.prev_final_update_id
            last = pu if pu is not None else brk.row.first_update_id - 1
            ref = uuid.uuid4()
            self._open_gaps.setdefault(symbol, []).append(ref)
            self.events.record(
                "gap",
                {"prev_u": brk.prev_u, "U": brk.row.first_update_id, "pu": pu},
                symbol=symbol,
                market=self.market,
                stream="depth_updates",
                first_id=brk.prev_u + 1,
                last_id=last,
                end_time=brk.row.time,
                status="open",
                ref=ref,
            )
            log.warning(
                "%s: depth chain broken after u=%d (pu=%s); resyncing", symbol, brk.prev_u, pu
            )
        self.request(symbol, "resync" if self._open_gaps.get(symbol) else "start")

    def declare(self, hole: Hole, reason: str = UNDECLARED) -> None:
        """A hole in the stored diffs the live book never saw (an earlier run died before it could
        declare it, or its rows were dropped): declared now, and closed by the next snapshot this
        keeper stores for the symbol; unrecoverable if the symbol has left the universe."""
        kept = hole.symbol in self.books
        ref = uuid.uuid4()
        if kept:
            self._open_gaps.setdefault(hole.symbol, []).append(ref)
        self.events.record(
            "gap",
            {"reason": reason},
            symbol=hole.symbol,
            market=self.market,
            stream="depth_updates",
            first_id=hole.first_id,
            last_id=hole.last_id,
            start_time=hole.after,
            end_time=hole.before,
            status="open" if kept else "unrecoverable",
            ref=ref,
        )

    def declare_dropped(self, hole: Hole, reason: str) -> None:
        """Diffs the live book applied but the database never got: a snapshot stored now lets a
        replay of the stored diffs go on after the hole."""
        self.declare(hole, reason)
        log.error(
            "%s: depth diffs %d..%d were dropped (%s); storing a snapshot after them",
            hole.symbol, hole.first_id, hole.last_id, reason,
        )  # fmt: skip
        if hole.symbol in self.books:
            self.request(hole.symbol, AFTER_HOLE)

    def adopt(self, symbol: str, ref: uuid.UUID) -> None:
        """A gap an earlier run declared and could not close: this run's first snapshot does."""
        if symbol in self.books:
            self._open_gaps.setdefault(symbol, []).append(ref)

    def request(self, symbol: str, reason: str) -> None:
        if symbol not in self._pending:
            self._pending.add(symbol)
            self._queue.put_nowait((symbol, reason))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._snapshots())
            tg.create_task(self._tops())
            if self.snapshot_interval > 0:
                tg.create_task(self._periodic())

    async def _snapshots(self) -> None:
        while True:
            symbol, reason = await self._queue.get()
            try:
                await self._fetch(symbol, reason)
            except RestError as exc:
                log.error("%s: depth snapshot failed: %s; retrying", symbol, exc)
                await asyncio.sleep(1.0)
                self._pending.discard(symbol)
                self.request(symbol, reason)

    async def _fetch(self, symbol: str, reason: str) -> None:
        sync = self.books.get(symbol)
        if sync is None:
            return  # removed from the universe since it was asked for
        if reason == AFTER_HOLE and not sync.valid:
            reason = "resync"  # the book broke meanwhile: that break's resync closes both
        if reason not in ("periodic", AFTER_HOLE):
            for _ in range(100):  # Binance: open the stream and buffer before the snapshot
                if sync.buffer:
                    break
                await asyncio.sleep(0.05)
        data = await self.rest.depth(symbol, self.snapshot_limit)
        row = parse.depth_snapshot(data, symbol, reason, self.clock(), self.market)
        self.put(row)
        self._pending.discard(symbol)
        if reason == "periodic":
            return  # stored for research; reloading a live book from it would lose diffs
        if self.books.get(symbol) is not sync:
            return  # removed (or removed and re-added) while the snapshot was on its way
        if reason == AFTER_HOLE and sync.valid:
            self._close_gaps(symbol, row.last_update_id)
        elif sync.on_snapshot(row):
            metrics.BOOK_VALID.labels(self.label(symbol)).set(1)
            self._close_gaps(symbol, row.last_update_id)
        else:
            metrics.BOOK_VALID.labels(self.label(symbol)).set(0)
            self.request(symbol, reason)  # snapshot older than the buffered diffs: again

    def _close_gaps(self, symbol: str, last_update_id: int) -> None:
        refs = self._open_gaps.pop(symbol, [])
        if refs:
            metrics.RESYNCS.labels(self.label(symbol)).inc()
        for ref in refs:
            self.events.record(
                "resync",
                {"last_update_id": last_update_id},
                symbol=symbol,
                market=self.market,
                stream="depth_updates",
                status="resynced",
                ref=ref,
            )

    async def _tops(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            next_tick += self.top_interval
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            now = self.clock()
            for symbol, sync in list(self.books.items()):
                metrics.BOOK_VALID.labels(self.label(symbol)).set(1 if sync.valid else 0)
                if sync.valid:  # never a book_top row from a book that is not in sync
                    self.put(self._top_row(now, symbol, sync))

    def _top_row(self, now: dt.datetime, symbol: str, sync: BookSync) -> BookTopRow:
        book = sync.book
        levels = book.top(self.top_levels)
        return book_top_row(now, symbol, self.market, book.last_update_id, book.event_time, levels)

    async def _periodic(self) -> None:
        while True:
            symbols = list(self.books)  # the universe may change between rounds
            if not symbols:  # none held (LEASES=on): a round without an await would spin forever
                await asyncio.sleep(self.snapshot_interval)
                continue
            step = self.snapshot_interval / len(symbols)  # staggered over the interval
            for symbol in symbols:
                await asyncio.sleep(step)
                if symbol in self.books:
                    self.request(symbol, "periodic")
