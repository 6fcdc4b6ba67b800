"""A chunk's rows for the archiver, a batch at a time, as Arrow columns.

Each batch is one row of the server: per column, the values' binary send form end to end (one
`bytea`), read by numpy without a Python object per value (as strategy/source.py reads trades).
Decoding records one by one cost two thirds of an archive run.

The batches of one market and symbol follow each other by time: a batch starts at the last
time of the one before, skipping the rows of that time it already held (OFFSET), so the index on
(symbol, time) serves every batch and a chunk is never sorted, nor held, whole.

Column forms: fixed-width types their send form (and for a nullable column a flag per row, its
NULLs a placeholder); text and jsonb their text and byte lengths; float8[] its array_send form
and cardinality (-1 for a NULL, whose value string_agg skips).
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
_TEXT = ("text", "jsonb", "uuid")  # uuid: its canonical text, exact both ways
_ARRAY = "double precision[]"


def _agg(expr: str) -> str:
    return f"string_agg({expr}, ''::bytea)"


class TextVaries(Exception):
    """A NOT NULL text column holds more than one value in a batch read without its values."""


def _fields(name: str, kind: str, nullable: bool, every: str, guess: str) -> list[str]:
    """The aggregates that carry one column. string_agg skips NULL: a text or array column sends
    its non-NULL values and -1 as the length of a NULL; a fixed-width one a placeholder and a
    flag. A NOT NULL text column (venue, a snapshot's reason) mostly holds one value: whether
    every row equals `guess` (a parameter: the value of the batch before), or without a guess
    its least and greatest value; its values only when `every` (a parameter) is true."""
    c = f'"{name}"'
    if kind in _TEXT and not nullable:
        text = f'{c}::text COLLATE "C"'
        return [f"min({text}) FILTER (WHERE {guess} IS NULL)",
                f"max({text}) FILTER (WHERE {guess} IS NULL)", f"bool_and({text} = {guess})",
                f"{_agg(f'textsend({c}::text)')} FILTER (WHERE {every})",
                f"{_agg(f'int4send(octet_length({c}::text))')} FILTER (WHERE {every})"]  # fmt: skip
    if kind in _FIXED:
        send = f"{_FIXED[kind][0]}({c})"
        if not nullable:
            return [_agg(send)]
        width = np.dtype(_FIXED[kind][1]).itemsize
        return [
            _agg(f"coalesce({send}, '\\x{'00' * width}'::bytea)"),
            _agg(f"boolsend({c} IS NULL)"),
        ]
    if kind in _TEXT:
        return [
            _agg(f"textsend({c}::text)"),
            _agg(f"int4send(coalesce(octet_length({c}::text), -1))"),
        ]
    if kind == _ARRAY:
        return [_agg(f"array_send({c})"), _agg(f"int4send(coalesce(cardinality({c}), -1))")]
    raise ArchiveError(f"no archive form for a column of type {kind}")


def text_values(layout: Layout) -> tuple[str, ...]:
    """The NOT NULL text columns: `batch_query` takes a guess of each one's value."""
    return tuple(c for c in layout.file_columns
                 if layout.types[c] in _TEXT and c in layout.not_null)  # fmt: skip


def batch_query(layout: Layout, chunk: str) -> str:
    """One batch of one market and symbol: its row count, then the columns' aggregates. $1 symbol,
    $2 market (tables with a market column), then time from (µs since 2000), rows to skip at
    that time, rows; for tables with `text_values`, whether to send their every value and a
    guess of each one's value (NULL: none)."""
    n = 3 if layout.has_market else 2
    guesses = {c: f"${n + 4 + i}::text" for i, c in enumerate(text_values(layout))}
    every = f"${n + 3}::boolean"
    fields = [f for c in layout.file_columns
              for f in _fields(c, layout.types[c], c not in layout.not_null, every,
                               guesses.get(c, ""))]  # fmt: skip
    where = ["symbol = $1", "market = $2"] if layout.has_market else ["symbol = $1"]
    where.append(f"time >= ${n}")
    order = ", ".join(f'"{c}"' for c in layout.key)
    rows = f"SELECT * FROM {chunk} WHERE {' AND '.join(where)} ORDER BY {order}"
    return f"SELECT count(*), {', '.join(fields)} FROM ({rows} OFFSET ${n + 1} LIMIT ${n + 2}) AS b"


def decode(layout: Layout, row: tuple, guesses: tuple[str | None, ...] = ()) -> pa.Table:
    """`batch_query`'s row as a table of the file's schema (`guesses`: as asked)."""
    guessed = dict(zip(text_values(layout), guesses, strict=False))
    values, rows = iter(row[1:]), row[0]
    if not rows:  # the aggregates of no rows are NULL
        return layout.schema.empty_table()
    arrays = []
    for name in layout.file_columns:
        kind = layout.types[name]
        nullable = name not in layout.not_null
        if kind in _FIXED:
            data, nulls = next(values), np.frombuffer(next(values), np.bool_) if nullable else None
            array = _fixed(kind, data, nulls)
        elif kind in _TEXT and not nullable:
            array = _text(rows, guessed.get(name), *(next(values) for _ in range(5)))
        else:
            array = _varying(kind, next(values) or b"", np.frombuffer(next(values), ">i4"))
        if len(array) != rows:
            raise ArchiveError(f"{layout.table}.{name}: {len(array)} values for {rows} rows")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=layout.schema)


def _text(rows: int, guess: str | None, least: str | None, greatest: str | None,
          same: bool, data: bytes | None, lengths: bytes | None) -> pa.Array:  # fmt: skip
    """A NOT NULL text column: its one value repeated, or every value when they were sent."""
    if data is not None and lengths is not None:
        return _varying("text", data, np.frombuffer(lengths, ">i4"))
    value = least if guess is None and least == greatest else guess if same else None
    if value is None:
        raise TextVaries
    return pa.repeat(pa.scalar(value, pa.string()), rows)


def _fixed(kind: str, data: bytes, nulls: np.ndarray | None) -> pa.Array:
    values = np.frombuffer(data, _FIXED[kind][1])
    if kind == "timestamp with time zone":  # µs since 2000 -> since 1970
        since_1970 = values.astype(np.int64) + PG_EPOCH_US
        return pa.array(since_1970, pa.int64(), mask=nulls).cast(TIMESTAMP)
    native = values.astype(values.dtype.newbyteorder("="))
    return pa.array(native, ARROW_TYPES[kind], mask=nulls)


def _varying(kind: str, data: bytes, lengths: np.ndarray) -> pa.Array:
    """Text (byte lengths) or float8[] (cardinalities) of the non-NULL values, -1 for NULL."""
    valid = lengths >= 0
    sizes = np.where(valid, lengths, 0).astype(np.int32)
    offsets = np.zeros(len(sizes) + 1, np.int32)
    np.cumsum(sizes, out=offsets[1:])
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    if kind in _TEXT:
        return pa.StringArray.from_buffers(
            len(sizes), pa.py_buffer(offsets), pa.py_buffer(data), validity
        )
    elements = _array_elements(data, sizes[valid])
    return pa.ListArray.from_buffers(
        ARROW_TYPES[kind], len(sizes), [validity, pa.py_buffer(offsets)],
        children=[pa.array(elements)],
    )  # fmt: skip


def _array_elements(blob: bytes, cardinality: np.ndarray) -> np.ndarray:
    """Every element of the arrays `array_send` wrote end to end, in order. A one-dimensional
    array is a 20-byte header then (length, value) pairs of 4 + 8 bytes; an empty one 12 bytes."""
    n = cardinality.astype(np.int64)
    sizes = np.where(n > 0, 20 + 12 * n, 12)
    starts = np.zeros(len(n), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    if sizes.sum() != len(blob):
        raise ArchiveError("an array column is not one-dimensional float8 without NULLs")
    if not len(n):  # every array NULL
        return np.empty(0, np.float64)
    words = np.frombuffer(blob, ">i4")
    head = starts // 4
    ndims, has_null = words[head], words[head + 1]
    if np.any(ndims != np.where(n > 0, 1, 0)) or np.any(has_null != 0):
        raise ArchiveError("an array column is not one-dimensional float8 without NULLs")
    first = np.repeat(starts + 24 - 12 * np.cumsum(n) + 12 * n, n)  # element 0's value, per row
    positions = first + 12 * np.arange(n.sum())
    # 8-byte values at 4-byte-aligned positions: a view of every 4-byte step as a float8
    floats = np.ndarray((len(blob) // 4 - 1,), ">f8", blob, 0, (4,))
    return floats[positions // 4].astype(np.float64)
