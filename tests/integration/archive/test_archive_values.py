"""Values a recording rarely holds survive the archive exactly: NULL in every nullable column,
float edge cases, empty and long arrays, JSON text, two markets and two venues of one symbol,
days inside one chunk, and many rows at one time across the batches the archiver reads."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import asyncpg
import pytest

import db.archive
from db.archive import archive_run
from db.archive_fetch import TextVaries, batch_query, decode
from db.archive_format import Layout, set_codecs, table_layout
from db.archive_read import archived
from settings import ARCHIVE_TABLES
from tests.integration.archive.helpers import Rows, database_rows, stored_rows

T0 = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)  # a Monday: open_interest's 7-day chunk holds days
FLOATS = [-0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 65000.1]
JSON = ['{"note": "ünïcode ✓", "n": [1, 2.5, null]}', "[]", '"x"', None]


def trades() -> list[tuple]:
    """Binance's rows carry their three ids; Bybit's (every fifth, market linear as the recorder
    writes them) a UUID and NULL ids."""
    rows = []
    for i in range(50):
        at = T0 + dt.timedelta(microseconds=0 if i < 40 else i * 1001)  # 40 at one time
        f = FLOATS[i % len(FLOATS)]
        bybit = i % 5 == 0
        ids = (
            (None, None, None, uuid.UUID(int=(i + 1) * 0x9E3779B97F4A7C15))
            if bybit
            else (1000 + i, 5000 + i, 5000 + i, None)
        )
        market = "linear" if bybit and i % 10 else ("usdm", "spot")[i % 2]
        rows.append((at, "BTCUSDT", market, ids[0], f, abs(f) if f == f else 1.0,
                     None if i % 3 else f, ids[1], ids[2], i % 2 == 0,
                     None if i % 4 == 0 else at, at, JSON[i % len(JSON)],
                     "bybit" if bybit else "binance", ids[3]))  # fmt: skip
    return rows


def diffs() -> list[tuple]:
    rows = []
    for i in range(12):
        at = T0 + dt.timedelta(milliseconds=100 * (i // 3))  # three diffs per time
        n = (0, 1, 23, 500)[i % 4]
        prices = [65000.0 - k / 10 for k in range(n)]
        rows.append((at, "ETHUSDT", "usdm", None if i % 2 else at, 10 * i + 1, 10 * i + 9,
                     None if i % 3 == 0 else 10 * i, prices, [FLOATS[k % 8] for k in range(n)],
                     [], prices[::-1], at, JSON[i % len(JSON)]))  # fmt: skip
    return rows


def interest() -> list[tuple]:
    start = T0 - dt.timedelta(hours=12)  # 00:00 Monday: three days of one chunk
    return [(start + dt.timedelta(hours=5 * i), "BTCUSDT", FLOATS[i % 8], start, JSON[i % 4])
            for i in range(15)]  # fmt: skip


def exact(rows: Rows) -> dict[str, list[str]]:
    """Rows as text that tells every value apart (-0.0 from 0.0, NaN equal to NaN)."""

    def value(v: object) -> object:
        if isinstance(v, float):
            return v.hex()
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.UTC).isoformat()
        if isinstance(v, uuid.UUID):  # the archive keeps a uuid as its text
            return str(v)
        return v

    return {t: sorted(repr([value(v) for v in r]) for r in rs) for t, rs in rows.items()}


async def test_edge_values_and_ties_across_batches_archive_exactly(
    archive_db, tmp_path, monkeypatch
):
    # small batches: the 20 trades of a market at one time span three of them
    monkeypatch.setattr(db.archive, "BATCH_ROWS", 7)
    monkeypatch.setattr(db.archive, "BATCH_ROWS_WITH_ARRAYS", 2)
    conn = await asyncpg.connect(archive_db)
    try:
        for table, rows in (("agg_trades", trades()), ("depth_updates", diffs()),
                            ("open_interest", interest())):  # fmt: skip
            columns = (await table_layout(conn, table)).columns[: len(rows[0])]
            await conn.copy_records_to_table(table, records=rows, columns=columns)
        recorded = await database_rows(conn)
        report = await archive_run(conn, tmp_path, dt.datetime.now(dt.UTC), list(ARCHIVE_TABLES))
        assert report.rows == 50 + 12 + 15
        files = await conn.fetch("SELECT market, day FROM archive_files ORDER BY 1, 2")
        assert {r["market"] for r in files} == {"usdm", "spot", "linear"}
        assert len({r["day"] for r in files}) == 3
        assert all(rows == [] for rows in (await database_rows(conn)).values())
        stored = await stored_rows(conn)
        assert exact(stored) == exact(recorded)
        sent = {str(t[-1]) for t in trades() if t[-1] is not None}
        assert len(sent) == 10 and {v for r in stored["agg_trades"] for v in r} >= sent
    finally:
        await conn.close()


async def test_every_column_type_reads_back_with_and_without_nulls(archive_db):
    """Every type the archive knows, NULL or not, as the server sends it in a batch: decoded to
    what asyncpg reads from the same rows (the tables hold no nullable array or integer yet).
    A NOT NULL text column comes as its one value, or as every value once it holds several."""
    types = {"time": "timestamp with time zone", "symbol": "text", "d": "double precision",
             "i8": "bigint", "i4": "integer", "b": "boolean", "t": "text", "j": "jsonb",
             "a": "double precision[]", "k": "text", "v": "text"}  # fmt: skip
    rows = [(T0 + dt.timedelta(seconds=i), "X", FLOATS[i % 8], -(2**63) + i, -(2**31) + i,
             i % 2 == 0, "ü" * i, JSON[i % 3], [FLOATS[k % 8] for k in range(i)], "periodic",
             ("binance", "bybit")[i % 2]) for i in range(9)]  # fmt: skip
    rows += [(T0 + dt.timedelta(seconds=10 + i), "X", *([None] * 7), "periodic", "")
             for i in range(3)]  # fmt: skip
    not_null = frozenset({"time", "symbol", "k", "v"})
    layout = Layout("values", tuple(types), types, ("time",), not_null)
    one_value = Layout("values", tuple(types)[:-1], types, ("time",), not_null)
    conn = await asyncpg.connect(archive_db)
    try:
        columns = ", ".join(f"{c} {t}" for c, t in types.items())
        await conn.execute(f"CREATE TEMP TABLE archive_values ({columns})")
        await conn.copy_records_to_table("archive_values", records=rows)
        stored = await conn.fetch("SELECT * FROM archive_values ORDER BY time")
        await set_codecs(conn)
        query = batch_query(layout, "archive_values")
        batches = [await conn.fetchrow(query, "X", 0, 0, 100, every, None, None)
                   for every in (False, True)]  # fmt: skip
        for guess in (None, "periodic", "start"):
            batches.append(await conn.fetchrow(batch_query(one_value, "archive_values"),
                                               "X", 0, 0, 100, False, guess))  # fmt: skip
    finally:
        await conn.close()
    with pytest.raises(TextVaries):  # v varies
        decode(layout, tuple(batches[0]), (None, None))
    with pytest.raises(TextVaries):  # a guess that is wrong
        decode(one_value, tuple(batches[4]), ("start",))
    cases = ((layout, batches[1], (None, None)), (one_value, batches[2], (None,)),
             (one_value, batches[3], ("periodic",)))  # fmt: skip
    for lay, batch, guesses in cases:
        got = [tuple(r.values()) for r in decode(lay, tuple(batch), guesses).to_pylist()]
        want = [(r[0], *tuple(r)[2 : len(lay.columns)]) for r in stored]  # jsonb normalised
        assert exact({"values": got}) == exact({"values": want})


async def test_a_backtest_reads_only_binance_rows_of_a_file_both_venues_share(archive_db, tmp_path):
    """open_interest has no market column: one symbol's rows of both venues share a file. The
    strategy's archive reader (Binance's backtest) must not see Bybit's."""
    start = T0 - dt.timedelta(hours=12)
    rows = [(start + dt.timedelta(minutes=i), "BTCUSDT", 100.0 + i, start, None,
             "bybit" if i % 3 == 0 else "binance") for i in range(12)]  # fmt: skip
    conn = await asyncpg.connect(archive_db)
    try:
        columns = ("time", "symbol", "open_interest", "received_at", "extra", "venue")
        await conn.copy_records_to_table("open_interest", records=rows, columns=columns)
        report = await archive_run(conn, tmp_path, dt.datetime.now(dt.UTC), ["open_interest"])
        assert report.rows == 12
        lo = int(start.timestamp() * 1000)
        found = await archived(conn, ("BTCUSDT",), lo, lo + 3_600_000)
        (values,) = found.read("open_interest", "BTCUSDT", ("open_interest",), lo, lo + 3_600_000)
    finally:
        await conn.close()
    assert values == [r[2] for r in rows if r[5] == "binance"]
