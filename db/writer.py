"""The batch writer: drains rows per table, COPYs them, never blocks the socket readers.

``put()`` only appends to an in-memory batch. A flusher task per table batches naturally (group
commit): it sends what is queued as soon as the readers have handed over what they had (the event
loop comes back to it) and its previous COPY has committed, so a batch is a few rows at a low rate
and grows only while a commit is under way. ``max_rows`` caps one COPY (a larger batch goes out in
several, the watermark moving after the last); ``max_ms`` is how long a batch may wait before it
is spooled while writes fail. A fresh batch is COPYed (binary) straight into its table: nearly
every row is new, and a unique violation aborts the whole COPY, so a duplicate is never stored.
That batch, a spooled one (it may have been committed before the failure was seen) and every
batch for ``STAGED_AFTER_CONFLICT`` seconds after a conflict go the safe way instead: COPY into a
per-connection temp stage, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` in the same
transaction, so a replay never duplicates rows and one duplicate never loses a batch; a
``direct=False`` writer (two recorders writing the same rows) always does. Then
``NOTIFY flowline_rows`` tells
the strategy worker which table moved, and ``NOTIFY flowline_committed`` up to when every table of
the recorder is committed (``CommitWatermark``), so the worker never waits a fixed time for rows.

When the database fails, the batch goes to the on-disk spool and later batches follow it there
until the database is back; spooled batches are replayed in order before new ones (a batch is
never written while older rows of its table wait in the spool). Past ``queue_max_rows`` in memory
the batch is spooled at once. Rows the spool cannot take (cap reached) are dropped and counted;
the drop is reported through ``on_drop`` once writes work again, so the record of the hole is not
itself lost to the outage. ``hold_when_full`` keeps a table's rows in memory instead (for the
few, small ``recorder_events`` rows that explain everything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from db.connect import DatabaseUnavailable
from db.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "flowline_rows"
# While writes fail, a table's rows go to the spool at most this often (unless QUEUE_MAX_ROWS or
# max_rows fill first): every spool file costs two fsyncs on the event loop (~2-5 ms here).
SPOOL_EVERY = 1.0
COMMITTED_CHANNEL = "flowline_committed"
# A hold starts this far back: the row that revealed a hole was received a moment before the
# hold was placed. Starting lower costs nothing, readers keep the highest watermark they heard.
HOLD_MARGIN = 1.0
Connector = Callable[[], Awaitable[asyncpg.Connection]]
# Conflicts come in runs (an overlap after a reconnect, a backfill, a replay): after one, the
# writer stages for this long. Staging costs the database about twice the CPU of a direct COPY.
STAGED_AFTER_CONFLICT = 30.0
# How long one (re)connect and COPY may take before the batch is spooled; once the recorder is
# stopping, how long it may still take (a database that hangs must not hold the exit, or make
# shutdown lose rows it could have spooled).
WRITE_TIMEOUT = 60.0
CLOSING_WRITE_TIMEOUT = 5.0
# A failed write or (re)connect: spool and retry. Anything else is a bug and ends the task.
WRITE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # an idle connection whose server died mid-failover can answer with this, not a socket error
    asyncpg.InternalClientError,
    DatabaseUnavailable,
)


@dataclass
class WriterStats:
    rows_written: int = 0
    rows_duplicate: int = 0
    rows_spooled: int = 0
    batches_spooled: int = 0
    rows_dropped: int = 0
    flushes: int = 0
    failures: int = 0
    errors: int = 0  # unexpected errors (bugs, corrupt spool files), each logged with a traceback
    last_flush: float | None = None  # time.time() of the last successful flush
    failing_since: float | None = None
    busy_since: float | None = None  # time.time() the write under way started (a hang shows)


class CommitWatermark:
    """Up to when one recorder's tables are all committed.

    Rows are ``put()`` the moment they are received, so when a writer swaps out its batch at
    wall time T and commits it with its spool empty, every row of its table received before T is
    in the database; an idle writer with nothing held is committed through the time it looked.
    The minimum over the writers is the recorder's watermark: a row received before it, in any
    table, is committed. ``instance`` tells recorders sharing a database apart.

    Some rows come late and out of order: what a stream connection misses while it is down is
    fetched after it is back, and backfilled aggTrades carry old exchange times. A ``hold()``
    keeps the watermark where it was when the first hold began; a released hold lasts until
    every writer has committed past its release (the late rows were put before it), so a reader
    that trusts the watermark does not pass a hole before it is filled. A hold lasts at most
    ``hold_max`` seconds: a ban or an exchange outage must not stop the readers for good.
    """

    def __init__(self, hold_max: float = 60.0) -> None:
        self.instance = uuid.uuid4().hex[:12]
        self.writers: list[TableWriter] = []
        self.hold_max = hold_max
        self.published = 0  # ms: the highest watermark NOTIFYed by a commit
        self._holds: dict[object, _Hold] = {}

    def hold(self, key: object) -> None:
        """Keep the watermark from passing now, or an earlier hold still on, until released."""
        if key in self._holds:
            return
        now = time.time()
        at = min([now - HOLD_MARGIN, *(h.at for h in self._holds.values())])  # never ahead
        self._holds[key] = _Hold(at, now)

    def release(self, key: object) -> None:
        hold = self._holds.get(key)
        if hold is not None and hold.released is None:
            hold.released = time.time()

    def payload(self, writer: TableWriter, through: float) -> str:
        """The NOTIFY payload if `writer` commits through `through` now: "<ms> <instance>"."""
        others = (w.through() for w in self.writers if w is not writer)
        committed = min([through, *others])
        return f"{int(min([committed, *self._held(committed)]) * 1000)} {self.instance}"

    def newer(self, writer: TableWriter) -> str | None:
        """After `writer` committed: the payload to send if the watermark is now past what was
        NOTIFYed. A transaction's payload is computed before its commit, while the flush of
        another table may be in flight; when both commit at once, neither carries the news."""
        payload = self.payload(writer, writer.through())
        return payload if int(payload.split()[0]) > self.published else None

    def sent(self, payload: str) -> None:
        self.published = max(self.published, int(payload.split()[0]))

    def _held(self, committed: float) -> list[float]:
        now = time.time()
        for key, h in list(self._holds.items()):
            if h.released is not None and committed >= h.released:
                del self._holds[key]
            elif now - h.placed > self.hold_max:
                if h.released is None:
                    log.warning("watermark held by %s for %.0fs: going on", key, self.hold_max)
                del self._holds[key]
        return [h.at for h in self._holds.values()]


@dataclass
class _Hold:
    at: float  # the watermark stays at or below this (time.time())
    placed: float
    released: float | None = None


@dataclass
class Dropped:
    """Rows lost since writes last worked: how many, the time span (row[0]) and why."""

    rows: int
    first_time: datetime
    last_time: datetime
    reason: str


class TableWriter:
    def __init__(
        self,
        table: str,
        columns: Sequence[str],
        connect: Connector,
        *,
        max_rows: int = 5000,
        max_ms: int = 200,
        queue_max_rows: int = 500_000,
        spool: Spool | None = None,
        on_flush: Callable[[str, Sequence[tuple], float], None] | None = None,
        on_drop: Callable[[str, Dropped], None] | None = None,
        on_event: Callable[[str, str, dict[str, Any]], None] | None = None,
        on_lost: Callable[[Sequence[tuple]], None] | None = None,
        hold_when_full: bool = False,
        watermark: CommitWatermark | None = None,
        direct: bool = True,
    ) -> None:
        self.table = table
        self.direct = direct  # fresh batches COPY straight into the table (False: always staged)
        self.staged_until = 0.0  # monotonic: after a conflict, stage until then
        self.columns = tuple(columns)
        self._connect = connect
        self.max_rows = max_rows
        self.max_age = max_ms / 1000
        self.queue_max_rows = queue_max_rows
        self.spool = spool
        self.on_flush = on_flush
        self.on_drop = on_drop
        self.on_event = on_event  # (table, "spool" | "replay", details)
        self.on_lost = on_lost  # the rows themselves, as they are dropped
        self.hold_when_full = hold_when_full
        self.watermark = watermark
        self.committed_through = 0.0  # time.time(): rows put before it are committed
        self._idle = False  # nothing queued, in flight or spooled since committed_through was set
        self._advanced = asyncio.Event()
        if watermark is not None:
            watermark.writers.append(self)
        self.stats = WriterStats()
        self.down_since: float | None = None  # time.time() of an unexpected error not yet past
        self._dropped: Dropped | None = None
        self._spooling = False  # rows of this table went to the spool since it was last empty
        self._batch: list[tuple] = []
        self._batch_started = 0.0
        self._full = asyncio.Event()  # rows are waiting (or close() was called)
        self._conn: asyncpg.Connection | None = None
        self._closing = False
        self._hurry = False  # set by hurry(): writes time out sooner
        self._gave_up = False
        self._timeout: asyncio.Timeout | None = None  # of the write under way
        self._next_retry = 0.0
        cols = ", ".join(f'"{c}"' for c in self.columns)
        self._stage = f"stage_{table}"
        self._create_stage = (
            f'CREATE TEMP TABLE IF NOT EXISTS "{self._stage}" '
            f'(LIKE "{table}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
        )
        # The insert and its NOTIFYs in one statement: one round trip less per commit.
        insert = (
            f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{self._stage}" '
            "ON CONFLICT DO NOTHING RETURNING 1"
        )
        self._insert = (
            f"WITH ins AS ({insert}) SELECT (SELECT count(*) FROM ins), pg_notify($1, $2)"
        )
        self._insert_committed = (
            f"WITH ins AS ({insert}) SELECT (SELECT count(*) FROM ins), pg_notify($1, $2), "
            "pg_notify($3, $4)"
        )
        self._notify = "SELECT pg_notify($1, $2)"
        self._notify_committed = "SELECT pg_notify($1, $2), pg_notify($3, $4)"

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def queued(self) -> int:
        return len(self._batch)

    async def committed(self, since: float) -> None:
        """Wait until every row put before ``since`` (time.time()) is committed."""
        while self.committed_through < since:
            await self._advanced.wait()

    def through(self) -> float:
        """Rows put before this time are committed: now, while the writer is idle (an idle
        table must not hold the recorder's watermark back until its next look)."""
        return time.time() if self._idle else self.committed_through

    def _committed_through(self, through: float) -> None:
        self.committed_through = through
        advanced, self._advanced = self._advanced, asyncio.Event()
        advanced.set()  # wakes every waiter of ``committed``

    def put(self, row: tuple) -> None:
        """Queue one row; never waits. Past ``queue_max_rows`` (the database is slow or hanging)
        the held rows go to the spool so memory stays bounded."""
        batch = self._batch
        if not batch:
            self._batch_started = time.monotonic()
            self._idle = False
        elif len(batch) >= self.queue_max_rows:
            self._batch = [row]
            self._batch_started = time.monotonic()
            self._full.set()
            self._to_spool(batch)
            return
        batch.append(row)
        if len(batch) == 1 or len(batch) == self.max_rows:
            self._full.set()

    async def run(self) -> None:
        """Flush forever; cancel (or ``close()``) to stop. Flushes what is left on the way out.

        An unexpected error (a bug, a corrupt spool file) does not end the writer silently: it is
        logged with its traceback, counted, reported through ``on_event`` ("writer_error"), the
        writer counts as down (``down_since``) and tries again a second later with its rows."""
        try:
            while not self._closing:
                await self._wait_due()
                try:
                    await self._flush_due()
                except Exception as exc:  # anything but a write error is a bug
                    self._crashed(exc)
                    await asyncio.sleep(1.0)
                else:
                    self.down_since = None
        finally:
            await self._final_flush()

    def _crashed(self, exc: Exception) -> None:
        self.stats.errors += 1
        if self.down_since is None:
            self.down_since = time.time()
        log.exception("%s: writer failed unexpectedly; retrying in 1 s", self.table)
        if self.on_event is not None:
            self.on_event(self.table, "writer_error", {"error": f"{type(exc).__name__}: {exc}"})

    async def replay_spool(self) -> bool:
        """Write what an earlier run left in the spool; True if nothing of this table is left."""
        return await self._replay_if_due()

    def hurry(self) -> None:
        """The recorder is stopping: a write under way (or to come) gives up after
        CLOSING_WRITE_TIMEOUT, so a hung database cannot hold the exit; its rows are spooled."""
        self._hurry = True
        deadline = asyncio.get_running_loop().time() + CLOSING_WRITE_TIMEOUT
        timeout = self._timeout
        if timeout is not None and (timeout.when() or deadline) > deadline:
            timeout.reschedule(deadline)

    async def close(self) -> None:
        self.hurry()
        self._closing = True
        self._full.set()

    async def _wait_due(self) -> None:
        """Until rows wait and writes work; while they fail, until a batch is due for the spool
        (``max_rows`` or its age) so spool files stay few. With nothing queued it still wakes
        every ``max_ms``: an idle table's watermark moves on and a due replay is tried."""
        if self.stats.failing_since is None:
            if not self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.max_age)
            self._full.clear()
            return
        if len(self._batch) >= self.max_rows:
            return
        age = max(self.max_age, SPOOL_EVERY)
        delay = max(0.0, self._batch_started + age - time.monotonic()) if self._batch else age
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wait_full(), delay)

    async def _wait_full(self) -> None:
        while len(self._batch) < self.max_rows and not self._closing:
            self._full.clear()
            await self._full.wait()

    async def _flush_due(self) -> None:
        spool_empty = await self._replay_if_due()
        cut = time.time()
        if not self._batch:
            if spool_empty:  # nothing held: committed through now
                self._committed_through(cut)
                self._idle = True
            return
        batch, self._batch = self._batch, []
        try:
            await self._write_or_spool(batch, spool_empty, cut)
        except BaseException:  # a bug, or the task cancelled mid-write
            self._batch[:0] = batch  # kept for the next attempt (a replay never duplicates)
            raise
        self._idle = self.committed_through == cut and not self._batch  # all of it written
        if self._idle and self.watermark is not None:  # (with rows queued, the next commit will)
            await self._publish_newer(self.watermark)

    async def _publish_newer(self, watermark: CommitWatermark) -> None:
        payload = watermark.newer(self)
        if payload is None or self._conn is None:
            return
        # A failure here loses nothing: the next write finds the connection broken and the
        # watermark then follows with the next commit.
        with contextlib.suppress(*WRITE_ERRORS):
            async with asyncio.timeout(5):
                await self._conn.execute("SELECT pg_notify($1, $2)", COMMITTED_CHANNEL, payload)
            watermark.sent(payload)

    async def _replay_if_due(self) -> bool:
        """Replay the spool when writes work (or a retry is due); True if it is now empty."""
        if self.stats.failing_since is not None and not await self._retry_due():
            return False
        return self.spool is None or await self._replay_spool()

    async def _write_or_spool(self, batch: list[tuple], spool_empty: bool, cut: float) -> None:
        if not spool_empty:  # older rows wait in the spool (or the database is down): join them
            self._to_spool(batch)
            return
        for i in range(0, len(batch), self.max_rows):
            try:  # the watermark moves once the last part is in
                await self._write(
                    batch[i : i + self.max_rows], cut if i + self.max_rows >= len(batch) else None
                )
            except WRITE_ERRORS as exc:
                self._failed(exc)
                self._to_spool(batch[i:])
                return

    async def _write(self, batch: Sequence[tuple], cut: float | None = None) -> None:
        """COPY and commit one batch; `cut` is when it was taken (None: a spooled batch)."""
        started = time.perf_counter()
        through = self.committed_through if cut is None else cut
        self.stats.busy_since = time.time()
        try:
            async with asyncio.timeout(
                CLOSING_WRITE_TIMEOUT if self._hurry else WRITE_TIMEOUT
            ) as self._timeout:
                conn = await self._connection()
                try:
                    inserted, payload = await self._commit(conn, batch, through, cut is not None)
                except BaseException:  # no ROLLBACK: it would wait on a link that may hang
                    self._conn = None
                    conn.terminate()  # the server rolls the transaction back
                    raise
        finally:
            self.stats.busy_since = self._timeout = None
        if self.watermark is not None:
            self.watermark.sent(payload)
        self._committed_through(through)
        elapsed = time.perf_counter() - started
        s = self.stats
        s.rows_written += inserted
        s.rows_duplicate += len(batch) - inserted
        s.flushes += 1
        s.last_flush = time.time()
        if s.failing_since is not None:
            log.warning("%s: database writes work again", self.table)
        s.failing_since = None
        if self.on_flush is not None:
            self.on_flush(self.table, batch, elapsed)
        self._report_drops()

    async def _commit(
        self, conn: asyncpg.Connection, batch: Sequence[tuple], through: float, fresh: bool
    ) -> tuple[int, str]:
        """One transaction: (rows inserted, the watermark payload sent)."""
        if fresh and self.direct and time.monotonic() >= self.staged_until:
            await conn.execute("BEGIN")
            try:
                result = await self._copy_direct(conn, batch, through)
            except asyncpg.UniqueViolationError:
                await conn.execute("ROLLBACK")  # the link works: it just answered
                self.staged_until = time.monotonic() + STAGED_AFTER_CONFLICT
            else:
                await conn.execute("COMMIT")
                return result
        await conn.execute("BEGIN")
        result = await self._copy_insert(conn, batch, through)
        await conn.execute("COMMIT")
        return result

    async def _copy_direct(
        self, conn: asyncpg.Connection, batch: Sequence[tuple], through: float
    ) -> tuple[int, str]:
        """COPY into the table and NOTIFY, in the caller's transaction."""
        await conn.copy_records_to_table(self.table, records=batch, columns=self.columns)
        if self.watermark is None:
            await conn.execute(self._notify, NOTIFY_CHANNEL, self.table)
            return len(batch), ""
        payload = self.watermark.payload(self, through)
        await conn.execute(
            self._notify_committed, NOTIFY_CHANNEL, self.table, COMMITTED_CHANNEL, payload
        )
        return len(batch), payload

    async def _copy_insert(
        self, conn: asyncpg.Connection, batch: Sequence[tuple], through: float
    ) -> tuple[int, str]:
        """COPY into the stage, insert and NOTIFY, in the caller's transaction (the stage is
        ON COMMIT DELETE ROWS)."""
        await conn.copy_records_to_table(self._stage, records=batch, columns=self.columns)
        if self.watermark is None:  # notifications are delivered only if this commits
            return await conn.fetchval(self._insert, NOTIFY_CHANNEL, self.table), ""
        payload = self.watermark.payload(self, through)
        inserted = await conn.fetchval(
            self._insert_committed, NOTIFY_CHANNEL, self.table, COMMITTED_CHANNEL, payload
        )
        return inserted, payload

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await self._connect()
            try:
                await conn.execute(self._create_stage)
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    def _failed(self, exc: BaseException) -> None:
        s = self.stats
        s.failures += 1
        if s.failing_since is None:
            s.failing_since = time.time()
            log.error("%s: database write failed, spooling: %s", self.table, str(exc) or repr(exc))
        self._gave_up = self._hurry  # failed while stopping: no second wait at the final flush
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        self._next_retry = time.monotonic() + 1.0

    async def _retry_due(self) -> bool:
        return time.monotonic() >= self._next_retry

    def _to_spool(self, batch: list[tuple]) -> None:
        if self.spool is None:
            self._drop(batch, "database down and no spool")
            return
        try:
            self.spool.write(self.table, batch)
        except SpoolFull:
            if self.hold_when_full and len(batch) + len(self._batch) <= self.queue_max_rows:
                self._batch[:0] = batch  # kept for when the database returns
                self._batch_started = time.monotonic()
            else:
                self._drop(batch, "spool full")
            return
        except OSError as exc:
            self._drop(batch, f"spool write failed: {exc}")
            return
        self.stats.rows_spooled += len(batch)
        self.stats.batches_spooled += 1
        if not self._spooling and self.on_event is not None:
            self.on_event(self.table, "spool", {"rows": len(batch)})
        self._spooling = True

    async def _replay_spool(self) -> bool:
        """Write every spooled batch of this table, oldest first; False if a write failed."""
        assert self.spool is not None
        files = rows_total = 0
        while paths := self.spool.pending(self.table):  # batches spooled meanwhile come too
            for path in paths:
                try:
                    rows = self.spool.read(path)
                except Exception as exc:  # a damaged file must not stop the table
                    self._quarantine(path, exc)
                    continue
                try:
                    await self._write(rows)
                except WRITE_ERRORS as exc:
                    self._failed(exc)
                    return False
                self.spool.remove(path)
                files, rows_total = files + 1, rows_total + len(rows)
        if files:
            log.info("%s: replayed %d spooled rows from %d files", self.table, rows_total, files)
            if self.on_event is not None:
                self.on_event(self.table, "replay", {"files": files, "rows": rows_total})
        self._spooling = False
        return True

    def _quarantine(self, path: Path, exc: Exception) -> None:
        """A spool file that cannot be read is moved aside (``.corrupt``) and reported: its rows
        are lost to this recorder, and the gap they leave is declared."""
        assert self.spool is not None
        data = path.read_bytes()
        self.spool.remove(path)
        path.with_suffix(".corrupt").write_bytes(data)
        log.error("%s: spool file %s cannot be read (%s); moved aside", self.table, path, exc)
        self.stats.errors += 1
        if self.on_event is not None:
            self.on_event(
                self.table,
                "spool_corrupt",
                {"file": str(path.with_suffix(".corrupt")), "error": f"{type(exc).__name__}"},
            )

    def _drop(self, rows: Sequence[tuple], reason: str) -> None:
        self.stats.rows_dropped += len(rows)
        if self.on_lost is not None:
            self.on_lost(rows)
        times = [r[0] for r in rows]
        d = self._dropped
        if d is None:
            self._dropped = Dropped(len(rows), min(times), max(times), reason)
            log.error("%s: dropping rows (%s) until writes work again", self.table, reason)
        else:
            d.rows += len(rows)
            d.first_time, d.last_time = min(d.first_time, *times), max(d.last_time, *times)

    def _report_drops(self) -> None:
        dropped, self._dropped = self._dropped, None
        if dropped is not None and self.on_drop is not None:
            self.on_drop(self.table, dropped)

    async def _final_flush(self) -> None:
        if not self._gave_up:
            self._next_retry = 0.0  # one last attempt, whatever the backoff says
        try:
            await self._flush_due()
        except Exception as exc:  # the rows left are reported below
            self._crashed(exc)
        if self._batch and self._closing:  # neither written nor spooled: lost, and said so
            self._drop(self._batch, "not flushed at shutdown")
            self._batch = []
        self._report_drops()  # the database may be down: the gap row is what tells the tale
        if self._conn is not None:
            with contextlib.suppress(*WRITE_ERRORS):
                await self._conn.close(timeout=CLOSING_WRITE_TIMEOUT)  # aborts it past that
            self._conn = None
