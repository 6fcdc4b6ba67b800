"""``archive run``: whole chunks older than a cut move to Parquet, verified before they are dropped.

Per chunk, oldest first:

1. rows of files already catalogued for the chunk's range go back into the chunk first (after an
   ``archive restore``, or a row written late), so a file is always rewritten whole;
2. the chunk is streamed (db/archive_fetch.py: batches of columns, one snapshot; never held
   whole) in the order market, symbol, time, key into one file per market, symbol and UTC day,
   each written under a temporary name, fsynced, renamed, its directory fsynced;
3. each file is read back: its row count, time range and key checksum must equal the rows
   streamed into it;
4. in one transaction the chunk is locked against writes, its row count checked against the
   files', the files catalogued in ``archive_files`` and the chunk dropped.

A kill at any point leaves the chunk (steps 1-3, or step 4 rolled back) or verified, catalogued
files (step 4 committed), never neither; the next run deletes what an interrupted run left.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from db.archive_fetch import TextVaries, batch_query, decode, text_values
from db.archive_format import (
    DAY_US,
    DEFAULT_MARKET,
    PG_EPOCH_US,
    ArchiveError,
    Layout,
    add_checksums,
    datetime_to_us,
    file_path,
    key_checksum,
    set_codecs,
    signed,
    table_layout,
    us_to_datetime,
)
from db.archive_read import catalogued, restore_files

log = logging.getLogger(__name__)

# One archiver at a time (the recorder's schedule and a manual run): any constant works.
_LOCK_KEY = 0x466C6F7741726368
# Rows per batch: bounded memory whatever the chunk's size. Tables with arrays start small (a
# snapshot may hold thousands of levels) and every table's next batch is sized to BATCH_BYTES by
# the one before.
BATCH_ROWS = 100_000
BATCH_ROWS_WITH_ARRAYS = 100
BATCH_BYTES = 8 << 20
ROW_GROUP_ROWS = 50_000
ZSTD_LEVEL = 3  # 6 and 9 saved 1-7 % more and wrote 2-3x slower; 1: 4 % larger, 30 % faster
ZSTD_LEVEL_WITH_ARRAYS = 1  # depth diffs: 0.5 % smaller than 3 (bench/storage.py)
# Test hook: FLOWLINE_ARCHIVE_PAUSE_AT=<step> stops the run there (tests kill -9 it at each step).
PAUSE_ENV = "FLOWLINE_ARCHIVE_PAUSE_AT"
STEPS = ("written", "renamed", "verified", "catalogued", "dropped")

_CHUNKS = """
SELECT chunk_schema, chunk_name, range_start, range_end FROM timescaledb_information.chunks
WHERE hypertable_schema = 'public' AND hypertable_name = $1 AND range_end <= $2
ORDER BY range_start"""
_CATALOGUE = """
INSERT INTO archive_files (path, table_name, market, symbol, day, range_start, range_end, rows,
                           bytes, min_time, max_time, checksum)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (path) DO UPDATE SET rows = EXCLUDED.rows, bytes = EXCLUDED.bytes,
    min_time = EXCLUDED.min_time, max_time = EXCLUDED.max_time, checksum = EXCLUDED.checksum,
    range_start = EXCLUDED.range_start, range_end = EXCLUDED.range_end, created = now()"""


@dataclass(frozen=True)
class Chunk:
    schema: str
    name: str
    start: int  # µs since 2000, inclusive
    end: int  # exclusive

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.name}"'


@dataclass
class Part:
    """One file: the chunk's rows of one market, symbol and day."""

    market: str
    symbol: str
    day_index: int  # days since 1970-01-01 (UTC)
    start: int  # the range it stands for: the chunk's, clipped to the day (µs since 2000)
    end: int
    path: Path
    rows: int = 0  # streamed
    min_time: int = 0  # µs since 2000, of the rows streamed
    max_time: int = 0
    checksum: int = 0
    bytes: int = 0
    writer: pq.ParquetWriter | None = field(default=None, repr=False)

    @property
    def day(self) -> dt.date:
        return dt.date(1970, 1, 1) + dt.timedelta(days=self.day_index)

    @property
    def tmp(self) -> Path:
        return self.path.with_name(f".{self.path.name}.tmp")


class TableReport(NamedTuple):
    rows: int = 0
    bytes: int = 0
    chunks: int = 0
    files: int = 0


@dataclass
class ArchiveReport:
    chunks: int = 0
    rows: int = 0
    bytes: int = 0
    files: int = 0
    seconds: float = 0.0
    by_table: dict[str, TableReport] = field(default_factory=dict)

    def add(self, table: str, rows: int, size: int, files: int) -> None:
        self.chunks, self.rows, self.bytes, self.files = (
            self.chunks + 1, self.rows + rows, self.bytes + size, self.files + files)  # fmt: skip
        old = self.by_table.get(table, TableReport())
        self.by_table[table] = TableReport(old.rows + rows, old.bytes + size, old.chunks + 1,
                                           old.files + files)  # fmt: skip


def pause_at(step: str) -> None:
    if os.environ.get(PAUSE_ENV) == step:
        print(f"archive: paused at {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


async def archive_run(
    conn: asyncpg.Connection, root: Path, cut: dt.datetime, tables: list[str]
) -> ArchiveReport:
    """Archive every chunk of `tables` whose range ends at or before `cut`."""
    return await archive_tables(conn, root, dict.fromkeys(tables, cut))


async def archive_tables(
    conn: asyncpg.Connection,
    root: Path,
    cuts: dict[str, dt.datetime],
    more: tuple[asyncpg.Connection, ...] = (),
) -> ArchiveReport:
    """Archive every chunk of each table whose range ends at or before its cut. Each connection
    of `more` archives other tables at the same time: most of a chunk's time is one database
    backend's, so a second one uses another core."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
        raise ArchiveError("another archive run is in progress")
    connections = (conn, *more)
    try:
        for c in connections:
            await set_codecs(c)
        await clean_leftovers(conn, root)
        report, todo = ArchiveReport(), list(cuts.items())
        began = time.perf_counter()

        async def work(c: asyncpg.Connection) -> None:
            while todo:
                table, cut = todo.pop(0)
                layout = await table_layout(c, table)
                for r in await c.fetch(_CHUNKS, table, datetime_to_us(cut)):
                    report.add(table, *await archive_chunk(c, layout, Chunk(*r), root))

        try:
            async with asyncio.TaskGroup() as group:  # a failure cancels the other tables' work
                for c in connections:
                    group.create_task(work(c))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        report.seconds = time.perf_counter() - began
        return report
    finally:
        for c in connections:
            await c.reset_type_codec("timestamptz", schema="pg_catalog")  # the caller's again
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def clean_leftovers(conn: asyncpg.Connection, root: Path) -> None:
    """Temporary files, and files never catalogued (their chunk is still there), of a run that
    was interrupted. Runs under the archive lock, so no other run is writing."""
    _remove_unknown(root, {r[0] for r in await conn.fetch("SELECT path FROM archive_files")})


def _remove_unknown(root: Path, known: set[str]) -> None:
    for path in root.glob("table=*/**/*"):
        if path.is_file() and (path.name.endswith(".tmp") or str(path) not in known):
            log.info("archive: removing %s, left by an interrupted run", path)
            path.unlink()


async def archive_chunk(
    conn: asyncpg.Connection, layout: Layout, chunk: Chunk, root: Path
) -> tuple[int, int, int]:
    """Steps 1-4 for one chunk; returns (rows, bytes, files)."""
    old = await catalogued(conn, layout.table, chunk.start, chunk.end)
    if old:
        await restore_files(conn, layout, old, chunk.start, chunk.end)
    parts = await _export(conn, layout, chunk, root)
    pause_at("written")
    for part in parts:
        _rename(part)
    pause_at("renamed")
    for part in parts:
        _verify(part, layout)
    pause_at("verified")
    await _catalogue_and_drop(conn, layout, chunk, parts)
    pause_at("dropped")
    rows, size = sum(p.rows for p in parts), sum(p.bytes for p in parts)
    log.info("archive: %s %s -> %d files, %d rows, %d bytes", layout.table, chunk.name,
             len(parts), rows, size)  # fmt: skip
    return rows, size, len(parts)


async def _export(conn: asyncpg.Connection, layout: Layout, chunk: Chunk, root: Path) -> list[Part]:
    size = BATCH_ROWS_WITH_ARRAYS if layout.has_arrays else BATCH_ROWS
    files = _Files(root, layout, chunk)
    # One snapshot for every batch; the drop step counts the chunk again against the files.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL work_mem = '64MB'")
        await conn.execute("SET LOCAL jit = off")  # compiling cost more than each batch's run
        # Finding the chunk's markets and symbols scans it whole: parallel workers tripled that
        # scan's CPU for a third less time, on a machine the recorder and the other table's
        # archiver share.
        await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        series = [tuple(r) for r in await conn.fetch(_series(layout, chunk))]
        sql = batch_query(layout, chunk.qualified)
        batches = _Batches(conn, layout, sql, series, size, chunk.start)
        pending = None
        try:
            pending = batches.next()
            while pending is not None:
                market, symbol, row = await pending
                try:
                    table = decode(layout, row, batches.guesses)
                except TextVaries:  # this market and symbol's text columns hold several values
                    batches.every = True
                    pending = batches.next()  # the same batch again, with every value
                    continue
                batches.advance(table, sum(len(v) for v in row[1:] if isinstance(v, bytes)))
                # The server reads the next batch while a thread encodes this one.
                pending = batches.next()
                await asyncio.to_thread(files.add, market, symbol, table)
            await asyncio.to_thread(files.finish)
        except BaseException:
            if pending is not None:
                pending.cancel()
            files.discard()
            raise
    return files.parts


def _series(layout: Layout, chunk: Chunk) -> str:
    """The chunk's (market, symbol) pairs; without a market column the symbols, read by skipping
    through the key's index (symbol first) rather than the rows."""
    if layout.has_market:
        return f"SELECT DISTINCT market, symbol FROM {chunk.qualified} ORDER BY 1, 2"
    table = chunk.qualified
    return f"""
        WITH RECURSIVE s(symbol) AS (
            (SELECT symbol FROM {table} ORDER BY symbol LIMIT 1)
            UNION ALL
            SELECT (SELECT symbol FROM {table} WHERE symbol > s.symbol ORDER BY symbol LIMIT 1)
            FROM s WHERE s.symbol IS NOT NULL)
        SELECT '{DEFAULT_MARKET}', symbol FROM s WHERE symbol IS NOT NULL"""


class _Batches:
    """The batches of each (market, symbol) in turn, until one comes back short: each starts at
    the last time of the one before, skipping the rows of that time it held."""

    def __init__(self, conn: asyncpg.Connection, layout: Layout, sql: str,
                 series: list[tuple[str, str]], size: int, start: int) -> None:  # fmt: skip
        self.conn, self.layout, self.sql, self.size = conn, layout, sql, size
        self.todo = iter(series)
        self.current: tuple[str, str] | None = None
        self.start = self.at = start  # µs since 2000
        self.skip = self.asked = 0
        self.texts = text_values(layout)
        self.every = False  # send every value of the NOT NULL text columns
        self.guesses: tuple[str | None, ...] = ()  # their values in the batch before

    def next(self) -> asyncio.Future | None:
        if self.current is None:
            self.current = next(self.todo, None)
            if self.current is None:
                return None
            self.at, self.skip, self.every = self.start, 0, False
            self.guesses = (None,) * len(self.texts)
        market, symbol = self.current
        where = (market,) if self.layout.has_market else ()
        self.asked = self.size
        texts = (self.every, *self.guesses) if self.texts else ()
        args = (symbol, *where, self.at, self.skip, self.asked, *texts)
        return asyncio.ensure_future(self._fetch(market, symbol, args))

    async def _fetch(self, market: str, symbol: str, args: tuple) -> tuple[str, str, tuple]:
        return market, symbol, tuple(await self.conn.fetchrow(self.sql, *args))

    def advance(self, table: pa.Table, size: int) -> None:
        """After a batch of `size` bytes."""
        if len(table) < self.asked:
            self.current = None  # the last batch of this market and symbol
        if not len(table):
            return
        self.size = max(1, min(BATCH_ROWS, BATCH_BYTES * len(table) // max(size, 1)))
        self.guesses = tuple(table[c][-1].as_py() for c in self.texts)
        times = table["time"].cast(pa.int64()).to_numpy() - PG_EPOCH_US
        last = int(times[-1])
        if times[0] < self.at:
            raise ArchiveError(f"{self.layout.table}: a batch began before the one before ended")
        same = int(np.count_nonzero(times == last))
        self.skip = self.skip + same if last == self.at else same
        self.at = last


class _Files:
    """Cuts the stream, ordered by market, symbol and time, into one file per market, symbol
    and UTC day."""

    def __init__(self, root: Path, layout: Layout, chunk: Chunk) -> None:
        self.root, self.layout, self.chunk = root, layout, chunk
        self.parts: list[Part] = []

    def add(self, market: str, symbol: str, table: pa.Table) -> None:
        if not len(table):
            return
        times = table["time"].cast(pa.int64()).to_numpy()  # µs since 1970
        days = times // DAY_US
        cuts = np.flatnonzero(np.diff(days)) + 1
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(table)], strict=True):
            day = int(days[lo])
            part = self.parts[-1] if self.parts else None
            if part is None or (part.market, part.symbol, part.day_index) != (market, symbol, day):
                _finish(part)
                part = _part(self.root, self.layout, self.chunk, market, symbol, day)
                self.parts.append(part)
            _write(part, self.layout, table.slice(lo, hi - lo))

    def finish(self) -> None:
        _finish(self.parts[-1] if self.parts else None)

    def discard(self) -> None:
        for p in self.parts:
            if p.writer is not None:
                p.writer.close()
            p.tmp.unlink(missing_ok=True)


def _part(root: Path, layout: Layout, chunk: Chunk, market: str, symbol: str, day: int) -> Part:
    day_start = day * DAY_US - PG_EPOCH_US
    start, end = max(chunk.start, day_start), min(chunk.end, day_start + DAY_US)
    path = file_path(root, layout.table, market, symbol, us_to_datetime(start))
    return Part(market, symbol, day, start, end, path)


def _write(part: Part, layout: Layout, rows: pa.Table) -> None:
    if part.writer is None:
        part.path.parent.mkdir(parents=True, exist_ok=True)
        part.writer = pq.ParquetWriter(part.tmp, layout.schema, **_encoding(layout))
    part.writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
    times = rows["time"].cast(pa.int64())
    if not part.rows:
        part.min_time = times[0].as_py() - PG_EPOCH_US
    part.max_time = times[-1].as_py() - PG_EPOCH_US
    part.rows += len(rows)
    part.checksum = add_checksums(part.checksum, key_checksum([rows[k] for k in layout.key]))


def _encoding(layout: Layout) -> dict:
    """zstd, and per table what measured smallest (bench/storage.py): trades-like tables store
    times and ids as deltas (consecutive ids cost ~0 bits) and the rest by dictionary (prices on
    a tick, sizes on a lot step); depth-like tables (arrays) by dictionary throughout, where
    deltas of random update-id steps came out 15 % larger."""
    if layout.has_arrays:
        # zstd 1 came out smaller than 3 here, and wrote 25 % faster; the arrays' elements get
        # no statistics (no reader prunes by a level's price; they cost a fifth of the writing).
        scalars = [c for c in layout.file_columns if not layout.types[c].endswith("[]")]
        return {"compression": "zstd", "compression_level": ZSTD_LEVEL_WITH_ARRAYS,
                "use_dictionary": True, "write_statistics": scalars}  # fmt: skip
    delta = [c for c in layout.file_columns
             if layout.types[c] in ("bigint", "timestamp with time zone")]  # fmt: skip
    return {
        "compression": "zstd",
        "compression_level": ZSTD_LEVEL,
        "use_dictionary": [c for c in layout.file_columns if c not in delta],
        "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED") or None,
    }


def _finish(part: Part | None) -> None:
    if part is None or part.writer is None:
        return
    part.writer.close()
    part.writer = None
    with open(part.tmp, "rb") as f:
        os.fsync(f.fileno())


def _rename(part: Part) -> None:
    os.replace(part.tmp, part.path)
    _fsync_dir(part.path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _verify(part: Part, layout: Layout) -> None:
    """Read the file back from disk: rows, time range and key checksum equal the chunk's."""
    f = pq.ParquetFile(part.path)
    checksum, lo, hi = 0, None, None
    for batch in f.iter_batches(columns=list(layout.key), batch_size=ROW_GROUP_ROWS):
        checksum = add_checksums(checksum, key_checksum([batch[k] for k in layout.key]))
        times = pc.min_max(batch["time"].cast(pa.int64()))
        lo = times["min"].as_py() if lo is None else min(lo, times["min"].as_py())
        hi = times["max"].as_py() if hi is None else max(hi, times["max"].as_py())
    got = (f.metadata.num_rows, lo, hi, checksum)
    want = (part.rows, part.min_time + PG_EPOCH_US, part.max_time + PG_EPOCH_US, part.checksum)
    if got != want:
        part.path.unlink()
        raise ArchiveError(f"{part.path} does not read back as written: {got} != {want}")
    part.bytes = part.path.stat().st_size


async def _catalogue_and_drop(
    conn: asyncpg.Connection, layout: Layout, chunk: Chunk, parts: list[Part]
) -> None:
    async with conn.transaction():
        # SHARE blocks the recorder's inserts into this chunk until the drop commits: a row
        # written after the export would otherwise be dropped unarchived.
        await conn.execute(f"LOCK TABLE {chunk.qualified} IN SHARE MODE")
        rows = await conn.fetchval(f"SELECT count(*) FROM {chunk.qualified}")
        if rows != sum(p.rows for p in parts):
            raise ArchiveError(f"{chunk.name} changed while it was archived; the next run retries")
        for p in parts:
            await conn.execute(_CATALOGUE, str(p.path), layout.table, p.market, p.symbol, p.day,
                               p.start, p.end, p.rows, p.bytes, p.min_time, p.max_time,
                               signed(p.checksum))  # fmt: skip
        pause_at("catalogued")
        dropped = await conn.fetch(
            "SELECT drop_chunks($1::regclass, older_than => $2::timestamptz,"
            " newer_than => $3::timestamptz)",
            layout.table,
            chunk.end,
            chunk.start,
        )
        if [r[0] for r in dropped] != [chunk.qualified.replace('"', "")]:
            raise ArchiveError(f"dropping {chunk.name} dropped {[r[0] for r in dropped]}")
