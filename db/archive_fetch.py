"""A chunk's rows for the archiver, a batch at a time, as Arrow columns.

Each batch is one row of the server: per column, the values' binary send form end to end (one
`bytea`), read by numpy without a Python object per value (as strategy/source.py reads trades).
Decoding records one by one cost two thirds of an archive run.

The batches of one market and symbol follow each other by time: a batch starts at the last
time of the one before, skipping the rows of that time it already held (OFFSET), so the index on
(symbol, time) serves every batch and a chunk is never sorted, nor held, whole.

Column forms (NULLs become a flag column plus a placeholder, as string_agg skips NULL):
fixed-width types their send form; text and jsonb their text and byte lengths; float8[] its
array_send form and cardinality.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from db.archive_format import ARROW_TYPES, PG_EPOCH_US, TIMESTAMP, ArchiveError, Layout

_FIXED = {  # PostgreSQL type -> (send function, numpy dtype of the send form)
    "timestamp with time zone": ("timestamptz_send", ">i8"),
    "double precision": ("float8send", ">f8"),
    "bigint": ("int8send", ">i8"),
    "integer": ("int4send", ">i4"),
    "boolean": ("boolsend", "?"),
}
_TEXT = ("text", "jsonb")
_ARRAY = "double precision[]"
_EMPTY_ARRAY = "array_send('{}'::float8[])"


def _agg(expr: str) -> str:
    return f"string_agg({expr}, ''::bytea)"


def _fields(name: str, kind: str, nullable: bool) -> list[str]:
    """The aggregates that carry one column."""
    c = f'"{name}"'
    if kind in _FIXED:
        send = f"{_FIXED[kind][0]}({c})"
        width = np.dtype(_FIXED[kind][1]).itemsize
        value = f"coalesce({send}, '\\x{'00' * width}'::bytea)" if nullable else send
        out = [_agg(value)]
    elif kind in _TEXT:
        text = f"{c}::text"
        out = [_agg(f"coalesce(textsend({text}), ''::bytea)"),
               _agg(f"int4send(coalesce(octet_length({text}), 0))")]  # fmt: skip
    elif kind == _ARRAY:
        out = [_agg(f"coalesce(array_send({c}), {_EMPTY_ARRAY})"),
               _agg(f"int4send(coalesce(cardinality({c}), 0))")]  # fmt: skip
    else:
        raise ArchiveError(f"no archive form for a column of type {kind}")
    if nullable:
        out.append(_agg(f"boolsend({c} IS NULL)"))
    return out


def batch_query(layout: Layout, chunk: str) -> str:
    """One batch of one market and symbol: its row count, then the columns' aggregates. $1 symbol,
    $2 market (tables with a market column), then time from (µs since 2000), rows to skip at
    that time, rows."""
    fields = [f for c in layout.file_columns
              for f in _fields(c, layout.types[c], c not in layout.not_null)]  # fmt: skip
    where, n = ["symbol = $1"], 2
    if layout.has_market:
        where.append("market = $2")
        n = 3
    where.append(f"time >= ${n}")
    order = ", ".join(f'"{c}"' for c in layout.key)
    rows = f"SELECT * FROM {chunk} WHERE {' AND '.join(where)} ORDER BY {order}"
    return f"SELECT count(*), {', '.join(fields)} FROM ({rows} OFFSET ${n + 1} LIMIT ${n + 2}) AS b"


def decode(layout: Layout, row: tuple) -> pa.Table:
    """`batch_query`'s row as a table of the file's schema."""
    values, rows = iter(row[1:]), row[0]
    if not rows:  # the aggregates of no rows are NULL
        return layout.schema.empty_table()
    arrays = []
    for name in layout.file_columns:
        kind, nullable = layout.types[name], name not in layout.not_null
        parts = [next(values)] if kind in _FIXED else [next(values), next(values)]
        nulls = np.frombuffer(next(values), np.bool_) if nullable else None
        array = _column(kind, parts, rows, nulls)
        if len(array) != rows:
            raise ArchiveError(f"{layout.table}.{name}: {len(array)} values for {rows} rows")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=layout.schema)


def _column(kind: str, parts: list[bytes], rows: int, nulls: np.ndarray | None) -> pa.Array:
    if kind in _FIXED:
        values = np.frombuffer(parts[0], _FIXED[kind][1])
        if kind == "timestamp with time zone":  # µs since 2000 -> since 1970
            since_1970 = values.astype(np.int64) + PG_EPOCH_US
            return pa.array(since_1970, pa.int64(), mask=nulls).cast(TIMESTAMP)
        native = values.astype(values.dtype.newbyteorder("="))
        return pa.array(native, ARROW_TYPES[kind], mask=nulls)
    lengths = np.frombuffer(parts[1], ">i4").astype(np.int32)
    offsets = np.zeros(rows + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    validity = None if nulls is None else pa.py_buffer(np.packbits(~nulls, bitorder="little"))
    if kind in _TEXT:
        return pa.StringArray.from_buffers(
            rows, pa.py_buffer(offsets), pa.py_buffer(parts[0]), validity
        )
    elements = _array_elements(parts[0], lengths)
    return pa.ListArray.from_buffers(
        ARROW_TYPES[kind], rows, [validity, pa.py_buffer(offsets)], children=[pa.array(elements)]
    )


def _array_elements(blob: bytes, cardinality: np.ndarray) -> np.ndarray:
    """Every element of the arrays `array_send` wrote end to end, in order. A one-dimensional
    array is a 20-byte header then (length, value) pairs of 4 + 8 bytes; an empty one 12 bytes."""
    n = cardinality.astype(np.int64)
    sizes = np.where(n > 0, 20 + 12 * n, 12)
    starts = np.zeros(len(n), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    words = np.frombuffer(blob, ">i4")
    if sizes.sum() != len(blob) or not len(n):
        raise ArchiveError("an array column is not one-dimensional float8 without NULLs")
    head = starts // 4
    ndims, has_null = words[head], words[head + 1]
    if np.any(ndims != np.where(n > 0, 1, 0)) or np.any(has_null != 0):
        raise ArchiveError("an array column is not one-dimensional float8 without NULLs")
    first = np.repeat(starts + 24 - 12 * np.cumsum(n) + 12 * n, n)  # element 0's value, per row
    positions = first + 12 * np.arange(n.sum())
    # 8-byte values at 4-byte-aligned positions: a view of every 4-byte step as a float8
    floats = np.ndarray((len(blob) // 4 - 1,), ">f8", blob, 0, (4,))
    return floats[positions // 4].astype(np.float64)
