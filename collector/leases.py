"""Recorders sharing one universe through leases in the database (``LEASES=on``).

Each symbol is one lease row (db/leases.py). Every ``LEASE_TIMEOUT / 3`` seconds a recorder
renews its membership and its leases, gives up what is above its fair share (the universe split
evenly over the live recorders, rounded up) and takes free or expired leases up to that share.
A recorder that stops renewing loses its symbols after ``LEASE_TIMEOUT``; whoever takes them
resumes them like a restart would: trade ids from the last stored one (the hole is backfilled
or declared), books from the last stored diff (the break is declared and resynced).

The strategy worker must not run ahead of what the takeover repairs: a lease taken keeps the
previous owner's last watermark as ``takeover_floor`` until the new owner's own watermark has
passed the takeover by ``TAKEOVER_SETTLE`` (the holes it found by then hold it until repaired).

``REDUNDANCY=N`` (N > 1) offers N slots per symbol and a recorder holds at most one of them, so
N recorders record each symbol at once. Rows keyed by the exchange are stored by all of them and
dedupe on their natural keys; rows stamped by a recorder's own clock (``CLOCKED``: book samples,
depth snapshots, open interest, the symbol's recorder_events, gap declarations included) only by
the holder of slot 0, the leader. A standby declares nothing: a hole it alone saw is not one
(the leader stored the rows), and a hole both saw is declared by the leader. When the leader's
lease expires a standby moves up to slot 0, adopts the leader's open gaps and declares the holes
in the stored ids that neither copy filled (``on_promote``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable

import asyncpg

from collector.depth import AFTER_HOLE, DepthKeeper
from collector.handler import FrameHandler
from collector.resume import UNDECLARED, resume_state
from collector.rows import BookTopRow, DepthSnapshotRow, OpenInterestRow, RecorderEventRow
from collector.subscriptions import Subscriptions
from collector.universe import follow, symbol_streams
from collector.venues.binance import streams
from collector.venues.binance.backfill import Backfiller
from collector.venues.binance.rest import RestError
from db import leases as sql
from db.connect import DatabaseUnavailable, connect
from db.writer import CommitWatermark
from markets import USDM

log = logging.getLogger(__name__)

MARKET = USDM
# How long after a takeover the new owner holds its watermark: its streams are subscribed and
# the first trades (or the REST check of a quiet symbol, collector/backfill.py) show any hole.
TAKEOVER_SETTLE = 4.0
FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
Change = Callable[[list[str], list[str]], Awaitable[None]]  # (gained, lost)
# Rows stamped by the recorder's clock: two recorders would store two of each (keys differ).
CLOCKED = (BookTopRow, DepthSnapshotRow, OpenInterestRow, RecorderEventRow)


def owner_id(started: float) -> str:
    """host:pid:start (Unix seconds, to the millisecond: recorders started in one process by
    tests are told apart), readable in psql and unique per start."""
    return f"{socket.gethostname()}:{os.getpid()}:{started:.3f}"


class Leases:
    def __init__(
        self,
        url: str,
        timeout: float,
        universe: list[str],
        watermark: CommitWatermark,
        *,
        universe_of: Callable[[], Awaitable[list[str]]] | None = None,
        universe_refresh: float = 3600.0,
        expect: int = 1,
        redundancy: int = 1,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.universe = list(universe)
        self.watermark = watermark
        self.universe_of = universe_of  # top:N, re-evaluated every universe_refresh
        self.universe_refresh = universe_refresh
        self.expect = expect  # recorders expected: the first beat takes no more than that share
        self.redundancy = redundancy  # slots per symbol (REDUNDANCY)
        self.started = time.time()
        self.owner = owner_id(self.started)
        watermark.instance = self.owner  # the worker matches NOTIFYs to lease rows by it
        self.held: list[str] = []
        self.slots: dict[str, int] = {}  # symbol held -> its slot (0: this recorder leads it)
        self.on_change: Change | None = None
        self.on_promote: Callable[[list[str]], Awaitable[None]] | None = None
        self._settling: dict[str, float] = {}  # symbol -> time it was taken over
        self._conn: asyncpg.Connection | None = None
        self._offered: set[str] = set()
        self._holds = 0
        self._over = 0  # beats in a row above the share (REDUNDANCY > 1)

    async def first(self) -> list[str]:
        """Join and take a first share (the others give up theirs over the next beats)."""
        await self.beat()
        return list(self.held)

    async def run(self) -> None:
        next_universe = time.monotonic() + self.universe_refresh
        while True:
            await asyncio.sleep(self.timeout / 3)
            if self.universe_of is not None and time.monotonic() >= next_universe:
                next_universe = time.monotonic() + self.universe_refresh
                await self._refresh_universe()
            try:
                await self.beat()
            except (*FAILURES, DatabaseUnavailable) as exc:
                log.warning("leases not renewed (%s); they expire in %.0fs", exc, self.timeout)
                await self._drop_conn()

    async def beat(self) -> None:
        conn = await self._connection()
        live = await sql.join(conn, self.owner, _utc(self.started), self.timeout, len(self.held))
        new = [s for s in self.universe if s not in self._offered]
        if new:
            await sql.offer(conn, MARKET, new, self.redundancy)
            self._offered.update(new)
        mark = self._watermark()
        held = await sql.renew_slots(conn, MARKET, self.owner, self.timeout, mark)
        promoted = []
        if self.redundancy > 1:
            promoted = await sql.promote(conn, MARKET, self.owner, self.timeout, mark)
            held |= dict.fromkeys(promoted, 0)
        lost = [s for s in self.held if s not in held]  # taken while this recorder was late
        slots = len(self.universe) * self.redundancy
        share = math.ceil(slots / max(1, live, self.expect))
        self.expect = 1  # later beats count who is there
        keep = [s for s in self.held if s in held and s in self.universe]
        keep.sort(key=lambda s: held[s] > 0)  # above the share, standby slots go first
        spare = keep[share:] if self.redundancy == 1 else await self._spare(conn, keep[share:])
        give = [s for s in held if s not in self.universe] + spare
        keep = [s for s in keep if s not in spare]
        if give:
            await sql.release(conn, MARKET, self.owner, give, mark)
        count = share - len(keep)
        taken = await sql.take_slots(
            conn, MARKET, self.owner, self.universe, count, self.timeout, self.redundancy
        )
        self.held = keep + list(taken)
        self.slots = {s: held[s] for s in keep} | taken
        gone = [s for s in lost + give if s not in taken]
        for symbol in [*taken, *(s for s in promoted if s in self.slots)]:
            self._settling[symbol] = time.time()
        for symbol in gone:
            self._settling.pop(symbol, None)
        await self._settle(conn)
        if taken or gone:
            log.info(
                "leases: %d live recorders, share %d; took %s, gave up %s",
                live, share, list(taken) or "none", gone or "none",
            )  # fmt: skip
            if taken:
                self._hold()
            if self.on_change is not None:
                try:
                    await self.on_change(list(taken), gone)
                except (*FAILURES, DatabaseUnavailable):
                    # not resumed (its last stored ids unknown): back for whoever can
                    self.held = [s for s in self.held if s not in taken]
                    self.slots = {s: n for s, n in self.slots.items() if s not in taken}
                    await sql.release(conn, MARKET, self.owner, list(taken), mark)
                    raise
        await self._promoted([s for s in promoted if s in self.slots])

    async def _spare(self, conn: asyncpg.Connection, above: list[str]) -> list[str]:
        """Of the symbols above the share, those safe to give up with REDUNDANCY > 1: only once
        the share has stayed lower for longer than a lease (a recorder killed a moment ago still
        counts as live until its lease expires, and giving a symbol up to make room for it would
        leave the symbol to a dead copy), and only with another live copy recording it."""
        self._over = self._over + 1 if above else 0
        if self._over * self.timeout / 3 <= self.timeout:
            return []
        covered = await sql.covered(conn, MARKET, self.owner, above)
        return [s for s in above if s in covered]

    def writes(self, row: tuple) -> bool:
        """Whether this recorder stores ``row``: a clock-stamped row of a symbol only if it
        leads the symbol (REDUNDANCY > 1); anything else always."""
        if self.redundancy == 1 or not isinstance(row, CLOCKED):
            return True
        symbol = row.symbol
        return symbol is None or self.slots.get(symbol) == 0

    async def _promoted(self, symbols: list[str]) -> None:
        if not symbols:
            return
        log.info("leases: now leading %s (their leader's lease expired)", symbols)
        self._hold()
        if self.on_promote is None:
            return
        try:
            await self.on_promote(symbols)
        except (*FAILURES, DatabaseUnavailable) as exc:  # the next start's scan finds them
            log.warning("leases: the old leader's open gaps of %s not adopted (%s)", symbols, exc)

    async def close(self) -> None:
        """Give every lease back (with the final watermark) and leave the members; on a broken
        connection, once more on a new one."""
        try:
            for attempt in (1, 2):
                try:
                    conn = await self._connection()
                    await sql.release(conn, MARKET, self.owner, self.held, self._watermark())
                    await sql.leave(conn, self.owner)
                    return
                except (*FAILURES, DatabaseUnavailable) as exc:
                    then = "retrying" if attempt == 1 else f"they expire in {self.timeout:.0f}s"
                    log.warning("leases not released (%s): %s", exc, then)
                    await self._drop_conn()
        finally:
            self.held, self.slots = [], {}
            await self._drop_conn()

    def _hold(self) -> None:
        """The watermark stays where it is until the takeover's holes have shown."""
        self._holds += 1
        key = ("takeover", self._holds)
        self.watermark.hold(key)
        asyncio.get_running_loop().call_later(TAKEOVER_SETTLE, self.watermark.release, key)

    async def _settle(self, conn: asyncpg.Connection) -> None:
        published = self.watermark.published / 1000
        done = [s for s, at in self._settling.items() if published >= at + TAKEOVER_SETTLE]
        if done:
            await sql.settled(conn, MARKET, self.owner, done)
            for symbol in done:
                del self._settling[symbol]

    def _watermark(self) -> dt.datetime | None:
        ms = self.watermark.published
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms else None

    async def _refresh_universe(self) -> None:
        assert self.universe_of is not None
        try:
            top = await self.universe_of()
        except RestError as exc:  # keep the universe as it is
            log.warning("universe not re-evaluated: %s", exc)
            return
        if top:
            self.universe = top

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(
                self.url, server_settings={"application_name": "flowline-leases"}
            )
        return self._conn

    async def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class Follower:
    """Applies gained and lost leases to one recorder's futures parts (and its spot side)."""

    def __init__(
        self,
        url: str,
        symbols: list[str],
        handler: FrameHandler,
        keeper: DepthKeeper,
        backfiller: Backfiller,
        subscriptions: Subscriptions,
        depth_speed: str,
        spot_follow: Callable[[list[str], list[str]], None] | None = None,
        open_interest: dict[str, dt.datetime] | None = None,
    ) -> None:
        self.url = url
        self.symbols = symbols  # shared with the recorder, its /health and the OI poller
        self.handler = handler
        self.keeper = keeper
        self.backfiller = backfiller
        self.subscriptions = subscriptions
        self.depth_speed = depth_speed
        self.spot_follow = spot_follow
        # the OI poller's newest stored sample of symbols it has not sampled (pollers.py)
        self.open_interest = open_interest if open_interest is not None else {}

    async def __call__(self, gained: list[str], lost: list[str]) -> None:
        lost = [s for s in lost if s in self.symbols]
        follow(self.symbols, self.handler, self.keeper, self.subscriptions, self._streams, [], lost)
        if gained:
            await self._gain(gained)
        if self.spot_follow is not None:
            self.spot_follow(gained, lost)

    async def _gain(self, gained: list[str]) -> None:
        """Resume like a restart: from the last stored trade id and diff of each symbol."""
        resume = await resume_state(self.url, gained)
        since = time.monotonic()
        # before the symbols join: the poller's first sample of each declares the silence since
        self.open_interest.update(resume.last_open_interest)
        for symbol in gained:
            self.symbols.append(symbol)
            seq, old = resume.sequences[symbol], self.handler.trades.get(symbol)
            for lo, hi in old.holes if old is not None else []:
                seq.reopen(lo, hi)  # held before: a backfill still queued must find its hole
            self.handler.trades[symbol] = seq
            self.handler.symbols.add(symbol)
            self.keeper.add(symbol)
            book = self.keeper.books[symbol]
            book.prev_u, book.prev_time = resume.last_update_ids.get(symbol, (None, None))
        # the mark prices nobody stored while the symbol was unowned are declared as a gap
        self.handler._last_mark.update(resume.last_marks)
        for gap in resume.open_gaps:
            self.backfiller.resume(gap["symbol"], gap["first_id"], gap["last_id"], gap["ref"])
        self.subscriptions.change(self._streams(gained), [])
        # a symbol that traded only while nobody held it shows no hole until its next trade
        seen = self.handler.last_seen
        self.backfiller.check_quiet(gained, lambda s: seen.get(f"aggTrade:{s}", 0.0) < since)

    async def promote(self, symbols: list[str]) -> None:
        """Now leading ``symbols``: finish what their old leader declared and left open, and
        declare the holes in the stored ids neither copy filled (this recorder, a standby until
        now, declared nothing; what only one copy missed the other stored)."""
        resume = await resume_state(self.url, symbols)
        for gap in resume.open_gaps:
            self.backfiller.resume(gap["symbol"], gap["first_id"], gap["last_id"], gap["ref"])
        for h in resume.undeclared.get("agg_trades", []):
            self.backfiller.refetch(
                h.symbol, h.first_id, h.last_id, UNDECLARED, (h.after, h.before)
            )
        for h in resume.undeclared.get("depth_updates", []):
            self.keeper.declare(h)
            self.keeper.request(h.symbol, AFTER_HOLE)  # a snapshot stored now closes it
        for gap in resume.open_depth_gaps:
            self.keeper.adopt(gap["symbol"], gap["ref"])
            self.keeper.request(gap["symbol"], AFTER_HOLE)

    def _streams(self, symbols: list[str]) -> list[streams.Stream]:
        return symbol_streams(symbols, self.depth_speed)
