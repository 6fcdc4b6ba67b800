"""The batch writer: drains rows per table, COPYs them, never blocks the socket readers.

``put()`` only appends to an in-memory batch. A flusher task per table sends the batch when it
reaches ``max_rows`` or its oldest row is ``max_ms`` old: binary COPY into a per-connection temp
stage, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` in the same transaction, so a replay
never duplicates rows and one duplicate never loses a batch. Then ``NOTIFY flowline_rows`` tells
the strategy worker which table moved.

When the database fails, the batch goes to the on-disk spool and later batches follow it there
until the database is back; spooled batches are replayed in order before new ones. If memory
(``queue_max_rows``) or the spool cap is exceeded, rows are dropped, counted, and reported
through ``on_drop`` so the recorder can record the hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from db.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "flowline_rows"
Connector = Callable[[], Awaitable[asyncpg.Connection]]


@dataclass
class WriterStats:
    rows_written: int = 0
    rows_duplicate: int = 0
    rows_spooled: int = 0
    rows_dropped: int = 0
    flushes: int = 0
    failures: int = 0
    last_flush: float | None = None  # time.time() of the last successful flush
    failing_since: float | None = None


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
        on_drop: Callable[[str, Sequence[tuple], str], None] | None = None,
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._connect = connect
        self.max_rows = max_rows
        self.max_age = max_ms / 1000
        self.queue_max_rows = queue_max_rows
        self.spool = spool
        self.on_flush = on_flush
        self.on_drop = on_drop
        self.stats = WriterStats()
        self._batch: list[tuple] = []
        self._batch_started = 0.0
        self._full = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._closing = False
        self._next_retry = 0.0
        cols = ", ".join(f'"{c}"' for c in self.columns)
        self._stage = f"stage_{table}"
        self._create_stage = (
            f'CREATE TEMP TABLE IF NOT EXISTS "{self._stage}" '
            f'(LIKE "{table}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
        )
        self._insert = (
            f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{self._stage}" '
            "ON CONFLICT DO NOTHING"
        )

    @property
    def queued(self) -> int:
        return len(self._batch)

    def put(self, row: tuple) -> None:
        """Queue one row; never waits. Past ``queue_max_rows`` (the database is slow or hanging)
        the held rows go to the spool so memory stays bounded."""
        batch = self._batch
        if not batch:
            self._batch_started = time.monotonic()
        elif len(batch) >= self.queue_max_rows:
            self._batch = [row]
            self._batch_started = time.monotonic()
            self._to_spool(batch)
            return
        batch.append(row)
        if len(batch) >= self.max_rows:
            self._full.set()

    async def run(self) -> None:
        """Flush forever; cancel (or ``close()``) to stop. Flushes what is left on the way out."""
        try:
            while not self._closing:
                await self._wait_due()
                await self._flush_due()
        finally:
            await self._final_flush()

    async def close(self) -> None:
        self._closing = True
        self._full.set()

    async def _wait_due(self) -> None:
        if self._batch and len(self._batch) >= self.max_rows:
            return
        delay = self.max_age
        if self._batch:
            delay = max(0.0, self._batch_started + self.max_age - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._full.wait(), delay)
        self._full.clear()

    async def _flush_due(self) -> None:
        if self.spool is not None and self.stats.failing_since is None:
            await self._replay_spool()
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        await self._write_or_spool(batch)

    async def _write_or_spool(self, batch: list[tuple]) -> None:
        if self.stats.failing_since is not None and not await self._retry_due():
            self._to_spool(batch)
            return
        try:
            await self._write(batch)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            self._failed(exc)
            self._to_spool(batch)

    async def _write(self, batch: Sequence[tuple]) -> None:
        started = time.perf_counter()
        conn = await self._connection()
        async with asyncio.timeout(60), conn.transaction():
            await conn.copy_records_to_table(self._stage, records=batch, columns=self.columns)
            status = await conn.execute(self._insert)
            await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, self.table)
        inserted = int(status.rsplit(" ", 1)[-1])
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
            log.error("%s: database write failed, spooling: %s", self.table, exc)
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
            self.stats.rows_spooled += len(batch)
        except SpoolFull:
            self._drop(batch, "spool full")
        except OSError as exc:
            self._drop(batch, f"spool write failed: {exc}")

    async def _replay_spool(self) -> None:
        assert self.spool is not None
        for path in self.spool.pending(self.table):
            rows = self.spool.read(path)
            try:
                await self._write(rows)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                self._failed(exc)
                return
            self.spool.remove(path)
            log.info("%s: replayed %d spooled rows", self.table, len(rows))

    def _drop(self, rows: Sequence[tuple], reason: str) -> None:
        self.stats.rows_dropped += len(rows)
        if self.on_drop is not None:
            self.on_drop(self.table, rows, reason)

    async def _final_flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            await self._write_or_spool(batch)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
