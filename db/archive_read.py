"""Reading the archive tier back: ranges for the strategy's reader, and ``archive restore``.

The catalog (``archive_files``) is the authority: for a table, market and symbol the time range
of a catalogued file is read from that file, everything else from the hypertable. So a range half
archived and half in the database reads as one stream, and rows restored for psql are never
read twice.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import asyncpg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from db.archive_format import PARTITIONS, PG_EPOCH_US, TIMESTAMP, Layout

RESTORE_BATCH = 20_000


@dataclass(frozen=True)
class CatalogFile:
    path: str
    market: str
    symbol: str
    start: int  # µs since 1970, inclusive
    end: int  # exclusive
    created: float  # a rewritten file is a new one for the caches below


_FILES = """
SELECT path, market, symbol,
       (extract(epoch FROM range_start) * 1e6)::int8, (extract(epoch FROM range_end) * 1e6)::int8,
       extract(epoch FROM created)::float8
FROM archive_files
WHERE table_name = $1 AND range_start < 'epoch'::timestamptz + $3::int8 * interval '1 microsecond'
  AND range_end > 'epoch'::timestamptz + $2::int8 * interval '1 microsecond'"""


async def catalogued(
    conn: asyncpg.Connection, table: str, start_pg_us: int, end_pg_us: int
) -> list[CatalogFile]:
    """Files of `table` overlapping [start, end), given in µs since 2000."""
    rows = await conn.fetch(_FILES, table, start_pg_us + PG_EPOCH_US, end_pg_us + PG_EPOCH_US)
    return [CatalogFile(*r) for r in rows]


# ---- reading a file's rows of a time range: row groups chosen by their time statistics ----


@functools.lru_cache(maxsize=64)
def _open(path: str, created: float) -> pq.ParquetFile:
    return pq.ParquetFile(path)


@functools.lru_cache(maxsize=16)
def _row_group(path: str, created: float, index: int, columns: tuple[str, ...]) -> pa.Table:
    # A backtest reads ten minutes at a time; a row group holds more: keep the last few decoded.
    return _open(path, created).read_row_group(index, columns=list(columns))


def read_file(
    f: CatalogFile, columns: tuple[str, ...], lo_us: int, hi_us: int, venue: str | None = None
) -> pa.Table:
    """The file's rows with lo <= time < hi (µs since 1970), in file order, `columns` only
    (partition columns included); of `venue` only, when given. A table without a market column
    (mark prices, liquidations, open interest) keeps every venue's rows of a symbol and day in
    one file; files written before the venue column hold Binance's rows only."""
    pf = _open(f.path, f.created)
    at = pf.schema_arrow.get_field_index("time")
    by_venue = venue is not None and "venue" in pf.schema_arrow.names
    extra = ("venue",) if by_venue else ()
    wanted = tuple(dict.fromkeys(("time", *extra, *(c for c in columns if c not in PARTITIONS))))
    tables = []
    for i in range(pf.metadata.num_row_groups):
        stats = pf.metadata.row_group(i).column(at).statistics
        if stats is None or (stats.max_raw >= lo_us and stats.min_raw < hi_us):
            tables.append(_row_group(f.path, f.created, i, wanted))
    if not tables:
        tables = [pa.table({c: pa.array([], _type_of(pf, c)) for c in wanted})]
    table = pa.concat_tables(tables)
    times = table["time"].cast(pa.int64())
    keep = pc.and_(pc.greater_equal(times, lo_us), pc.less(times, hi_us))
    if by_venue:
        keep = pc.and_(keep, pc.equal(table["venue"], venue))
    table = table.filter(keep)
    for name, value in (("market", f.market), ("symbol", f.symbol)):
        if name in columns:
            table = table.append_column(name, pa.array([value] * len(table), pa.string()))
    return table.select(list(columns))


def _type_of(pf: pq.ParquetFile, column: str) -> pa.DataType:
    return pf.schema_arrow.field(column).type


# ---- archive restore ----


async def restore_files(
    conn: asyncpg.Connection, layout: Layout, files: list[CatalogFile], start: int, end: int
) -> int:
    """Insert the files' rows with start <= time < end (µs since 2000) into the hypertable,
    skipping rows already there (natural keys); returns the rows inserted. The connection
    carries db.archive_format.set_codecs."""
    inserted = 0
    for f in files:
        table = read_file(f, layout.columns, start + PG_EPOCH_US, end + PG_EPOCH_US)
        for batch in table.to_batches(RESTORE_BATCH):
            inserted += await _insert(conn, layout, _records(batch))
    return inserted


def _records(batch: pa.RecordBatch) -> list[tuple]:
    columns = []
    for column in batch.columns:
        if column.type == TIMESTAMP:  # back to µs since 2000 for the connection's codec
            column = pc.subtract(column.cast(pa.int64()), PG_EPOCH_US)
        columns.append(column.to_pylist())
    return list(zip(*columns, strict=True))


async def _insert(conn: asyncpg.Connection, layout: Layout, records: list[tuple]) -> int:
    columns = ", ".join(f'"{c}"' for c in layout.columns)
    async with conn.transaction():
        await conn.execute(
            f'CREATE TEMP TABLE archive_stage (LIKE "{layout.table}" INCLUDING DEFAULTS)'
            " ON COMMIT DROP"
        )
        await conn.copy_records_to_table("archive_stage", records=records, columns=layout.columns)
        status = await conn.execute(
            f'INSERT INTO "{layout.table}" ({columns}) SELECT {columns} FROM archive_stage'
            " ON CONFLICT DO NOTHING"
        )
    return int(status.split()[-1])


# ---- the strategy's reader: which parts of a range are archived ----


ARCHIVED_VENUE = "binance"  # the venue whose rows a backtest reads from the archive (usdm)


@dataclass
class Archived:
    """The catalogued ranges of some symbols (market usdm) around one read, per table."""

    files: dict[tuple[str, str], list[CatalogFile]]  # (table, symbol) -> files by start

    def pieces(
        self, table: str, symbol: str, lo_ms: int, hi_ms: int
    ) -> list[tuple[int, int, bool]]:
        """[lo, hi) cut into consecutive (lo, hi, archived) pieces."""
        out: list[tuple[int, int, bool]] = []
        at = lo_ms
        for f in self.files.get((table, symbol), []):
            a, b = max(f.start // 1000, at), min(f.end // 1000, hi_ms)
            if a >= b:
                continue
            if a > at:
                out.append((at, a, False))
            out.append((a, b, True))
            at = b
        if at < hi_ms:
            out.append((at, hi_ms, False))
        return out

    def covers(self, table: str, symbol: str, ms: int) -> bool:
        return any(f.start <= ms * 1000 < f.end for f in self.files.get((table, symbol), []))

    def read(
        self, table: str, symbol: str, columns: tuple[str, ...], lo_ms: int, hi_ms: int
    ) -> list[list]:
        """`columns` of the archived rows with lo <= time < hi as lists, times as integer ms
        (floored, as strategy.source's codec does), in file order."""
        parts = [
            read_file(f, columns, lo_ms * 1000, hi_ms * 1000, venue=ARCHIVED_VENUE)
            for f in self.files.get((table, symbol), [])
            if f.start < hi_ms * 1000 and f.end > lo_ms * 1000
        ]
        if not parts:
            return [[] for _ in columns]
        table_ = pa.concat_tables(parts)
        out = []
        for column in table_.columns:
            if column.type == TIMESTAMP:
                column = pc.divide(column.cast(pa.int64()), 1000)  # > 0: truncation is floor
            out.append(column.to_pylist())
        return out


async def archived(
    conn: asyncpg.Connection, symbols: tuple[str, ...], lo_ms: int, hi_ms: int
) -> Archived:
    """The catalogued usdm files of `symbols` overlapping [lo, hi), whatever the connection's
    timestamptz codec (times travel as numbers)."""
    rows = await conn.fetch(
        """
        SELECT table_name, path, market, symbol,
               (extract(epoch FROM range_start) * 1e6)::int8,
               (extract(epoch FROM range_end) * 1e6)::int8, extract(epoch FROM created)::float8
        FROM archive_files
        WHERE market = 'usdm' AND symbol = ANY($1::text[])
          AND range_start < 'epoch'::timestamptz + $3::int8 * interval '1 millisecond'
          AND range_end > 'epoch'::timestamptz + $2::int8 * interval '1 millisecond'
        ORDER BY range_start""",
        list(symbols),
        lo_ms,
        hi_ms,
    )
    files: dict[tuple[str, str], list[CatalogFile]] = {}
    for r in rows:
        files.setdefault((r[0], r[3]), []).append(CatalogFile(*r[1:]))
    return Archived(files)
