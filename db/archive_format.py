"""What the archive tier's Parquet files hold, shared by the archiver and its readers.

A file holds the rows of one table, market, symbol and UTC day (the Hive-style partitions in its
path, so they are not repeated as columns), sorted by time and then the rest of the natural key.
Column types round-trip every value: timestamptz is timestamp[us, UTC] (PostgreSQL's own
resolution), double precision is float64, arrays are list<float64>, jsonb and uuid their text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from settings import ARCHIVE_TABLES

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970: timestamptz's binary origin
DAY_US = 86_400_000_000
TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {
    "timestamp with time zone": TIMESTAMP,
    "double precision": pa.float64(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "boolean": pa.bool_(),
    "text": pa.string(),
    "jsonb": pa.string(),
    "double precision[]": pa.list_(pa.float64()),
    "uuid": pa.string(),  # the canonical 36-character text: exact, and readable in any tool
}
PARTITIONS = ("market", "symbol")  # in the path, not in the file
DEFAULT_MARKET = "usdm"  # for the futures-only tables, which have no market column

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""
_KEY = """
SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n), pg_attribute a
WHERE i.indrelid = $1::regclass AND i.indisunique AND a.attrelid = i.indrelid
  AND a.attnum = k.attnum
ORDER BY k.n"""


class ArchiveError(RuntimeError):
    """The archive cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class Layout:
    """One hypertable as the archive sees it, read from the database's catalog."""

    table: str
    columns: tuple[str, ...]  # every column, in table order
    types: dict[str, str]  # column -> PostgreSQL type
    key: tuple[str, ...]  # the natural key after symbol: time first, then the rest
    not_null: frozenset[str] = frozenset()  # columns declared NOT NULL

    @property
    def has_market(self) -> bool:
        return "market" in self.columns

    @property
    def has_arrays(self) -> bool:
        return any(t.endswith("[]") for t in self.types.values())

    @property
    def file_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in PARTITIONS)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(c, ARROW_TYPES[self.types[c]]) for c in self.file_columns])

    @property
    def order_by(self) -> str:
        """Stream order: the partitions, then time and the rest of the key."""
        market = ["market"] if self.has_market else []
        return ", ".join(f'"{c}"' for c in [*market, "symbol", *self.key])


async def table_layout(conn: asyncpg.Connection, table: str) -> Layout:
    if table not in ARCHIVE_TABLES:
        raise ArchiveError(f"--table must be one of {', '.join(ARCHIVE_TABLES)}, got {table!r}")
    columns = await conn.fetch(_COLUMNS, table)
    types = {r[0]: r[1] for r in columns}
    unknown = {c: t for c, t in types.items() if t not in ARROW_TYPES}
    if unknown:
        raise ArchiveError(f"{table}: no Parquet type for columns {unknown}")
    index = [r[0] for r in await conn.fetch(_KEY, table)]
    # agg_trades has a second key (Bybit's UUIDs): its columns join the order once
    key = tuple(dict.fromkeys(c for c in index if c not in PARTITIONS))
    return Layout(table, tuple(types), types, key, frozenset(r[0] for r in columns if r[2]))


async def set_codecs(conn: asyncpg.Connection) -> None:
    """timestamptz as integer µs since 2000 on this connection: exact, and decoded in C."""
    await conn.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=lambda us: (us,),
        decoder=operator.itemgetter(0),
        format="tuple",
    )


def us_to_datetime(pg_us: int) -> dt.datetime:
    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=pg_us)


def datetime_to_us(at: dt.datetime) -> int:
    """Aware datetime -> µs since 2000 (what the codec of `set_codecs` sends)."""
    delta = at - dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def file_path(root: Path, table: str, market: str, symbol: str, start: dt.datetime) -> Path:
    """Hive-style, so DuckDB, Polars or Spark prune by table, market, symbol and day."""
    return (
        root
        / f"table={table}"
        / f"market={market}"
        / f"symbol={symbol}"
        / f"day={start:%Y-%m-%d}"
        / f"part-{start:%H%M%S}.parquet"
    )


# ---- the checksum of natural keys: the same numbers from the chunk's rows and the file's ----

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps, as it should here)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _as_u64(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_string(column.type):
        return _text_hashes(column)
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    values = column.fill_null(0).to_numpy()
    if values.dtype == np.bool_:
        return values.astype(np.uint64)
    return values.view(np.uint64) if values.itemsize == 8 else values.astype(np.uint64)


def _text_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """`hash_text` of each value, computed once per distinct value: a column holds a few (a
    venue), and hashing every row in Python cost more than the rest of the archiver."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    distinct = [hash_text(s) for s in encoded.dictionary.to_pylist()]
    hashes = np.array([*distinct, hash_text(None)], dtype=np.uint64)  # the last: NULL's
    return hashes[encoded.indices.fill_null(len(distinct)).to_numpy()]


def hash_text(s: str | None) -> int:
    """A stable 64-bit hash (Python's own is salted per process)."""
    if s is None:
        return 0
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


def key_checksum(columns: list[pa.Array | pa.ChunkedArray]) -> int:
    """Sum (mod 2**64) over rows of a hash of the row's key columns; order-independent."""
    if not columns or len(columns[0]) == 0:
        return 0
    h = np.zeros(len(columns[0]), dtype=np.uint64)
    for i, column in enumerate(columns):
        h = _mix(h ^ _mix(_as_u64(column) + np.uint64(i + 1)))
    return int(h.sum(dtype=np.uint64))


def add_checksums(a: int, b: int) -> int:
    return (a + b) % 2**64


def signed(checksum: int) -> int:
    """As stored in a bigint column."""
    return checksum - 2**64 if checksum >= 2**63 else checksum
