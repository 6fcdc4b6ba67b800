"""Reading recorded rows for a time range, in the order the engine consumes them.

The live worker and the backtest both read through `fetch_range`, so they see the same rows in
the same order. Times come back as integer ms (a binary codec on the reader connection instead
of datetime objects: the backtest reads hundreds of thousands of rows a second).

Trades, the bulk of it, come as four columns per symbol and range (one row: each column the
server's binary form of its values end to end, read by numpy), kept as parallel lists: no record
and no tuple per trade. Objects per trade cost their construction and, worse, the cyclic GC's
passes over them: half of the read time when trades were records turned into tuples.

Whatever of a range lies in the Parquet archive (db/archive_read.py) is read from there, the
rest from the database, as one stream in the same order and shapes.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise

import asyncpg
import numpy as np

from collector.rows import DepthSnapshotRow, DepthUpdateRow
from db.archive_read import Archived, archived
from db.instruments import lot_step
from strategy.filters import step_of_quantities
from strategy.venue import BINANCE, Venue

PG_EPOCH_MS = 946_684_800_000  # 2000-01-01, PostgreSQL's timestamp origin
DEPTH, SNAPSHOT, LIQUIDATION, MARK, OPEN_INTEREST = range(5)
WINDOW_MS = 600_000  # rows are read ten minutes at a time
SNAPSHOT_SLACK_MS = 60_000  # a snapshot's exchange time precedes its fetch time by less


def _decode_ms(value: tuple[int]) -> int:
    return value[0] // 1000 + PG_EPOCH_MS


def _encode_ms(ms: int) -> tuple[int]:
    return ((ms - PG_EPOCH_MS) * 1000,)


async def setup_reader(conn: asyncpg.Connection) -> None:
    """timestamptz <-> integer ms on this connection (the reader's only), and sorts of a window
    in memory (at the default 4 MB one of 150k trades spilled to disk: a third of its read)."""
    await conn.execute("SET work_mem = '64MB'")
    await conn.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=_encode_ms,
        decoder=_decode_ms,
        format="tuple",
    )


@dataclass
class SymbolRows:
    """One symbol's rows: trades as parallel columns (row i of each is trade i, the fields of
    an `indicators.types.Trade`), every other row as an event in engine order."""

    trade_times: list[int] = field(default_factory=list)
    trade_prices: list[float] = field(default_factory=list)
    trade_qtys: list[float] = field(default_factory=list)
    trade_makers: list[bool] = field(default_factory=list)  # is_buyer_maker
    events: list[tuple[int, int, object]] = field(default_factory=list)  # (time, kind, payload)

    @property
    def trade_count(self) -> int:
        return len(self.trade_times)

    def trades_before(self, start: int, end_ms: int) -> int:
        """Index of the first trade at or after `end_ms`, searching from `start`."""
        return bisect_left(self.trade_times, end_ms, start)


# One row of four columns, each the values' binary send form (big-endian int8 microseconds since
# 2000 for a timestamptz, float8, one byte per bool) end to end, NULL for no rows. The aggregate
# reads the sorted subquery in its order (a subquery with ORDER BY is never flattened, and nothing
# above it can reorder: no join). Twice the speed of array_agg with the time converted to ms by
# the server (numeric arithmetic: most of the query's time) and 3x a Python timestamp codec.
_TRADES = """
SELECT string_agg(timestamptz_send(time), ''::bytea), string_agg(float8send(price), ''::bytea),
       string_agg(float8send(qty), ''::bytea), string_agg(boolsend(is_buyer_maker), ''::bytea)
  FROM (
    SELECT time, price, qty, is_buyer_maker FROM agg_trades
    WHERE symbol = $1 AND {where} AND time >= $2 AND time < $3
    ORDER BY time, {trade_order}
) AS ordered"""
_DEPTH = """
SELECT time, symbol, market, transaction_time, first_update_id, final_update_id,
       prev_final_update_id, bid_prices, bid_qtys, ask_prices, ask_qtys, received_at, extra
FROM depth_updates
WHERE symbol = $1 AND {where} AND time >= $2 AND time < $3
ORDER BY time, final_update_id"""
# A snapshot is ordered by the exchange's time in it; `time` is the recorder's clock. The table
# is small (one row per resync or DEPTH_SNAPSHOT_INTERVAL), so no index is needed for this.
_SNAPSHOTS = """
SELECT coalesce(transaction_time, event_time, time) AS at, time, symbol, market, last_update_id,
       event_time, transaction_time, reason, bid_prices, bid_qtys, ask_prices, ask_qtys,
       received_at, extra
FROM depth_snapshots
WHERE symbol = $1 AND {where}
  AND coalesce(transaction_time, event_time, time) >= $2
  AND coalesce(transaction_time, event_time, time) < $3
ORDER BY at, last_update_id"""
# The newest snapshot (by exchange time) of each symbol before a time; the earliest of them.
_NEWEST_SNAPSHOTS = """
SELECT min(newest) FROM (
    SELECT max(coalesce(transaction_time, event_time, time)) AS newest FROM depth_snapshots
    WHERE symbol = ANY($1::text[]) AND {where} AND coalesce(transaction_time, event_time, time) < $2
    GROUP BY symbol) AS s"""
# Futures-only tables have no market column: the venue says whose they are.
_LIQUIDATIONS = """
SELECT time, side, avg_price * filled_qty FROM force_orders
WHERE symbol = $1 AND {venue} AND time >= $2 AND time < $3 ORDER BY time, trade_time, side, price"""
_MARKS = """
SELECT time, mark_price, funding_rate FROM mark_prices
WHERE symbol = $1 AND {venue} AND time >= $2 AND time < $3 ORDER BY time"""
_OPEN_INTEREST = """
SELECT time, open_interest FROM open_interest
WHERE symbol = $1 AND {venue} AND time >= $2 AND time < $3 ORDER BY time"""


@cache
def queries(venue: Venue) -> dict[str, str]:
    """Each read above for `venue`: its rows only (the names are the registry's, not input)."""
    only = f"venue = '{venue.name}'"
    where = f"market = '{venue.market}' AND {only}"
    sql = {
        "agg_trades": _TRADES,
        "depth_updates": _DEPTH,
        "depth_snapshots": _SNAPSHOTS,
        "force_orders": _LIQUIDATIONS,
        "mark_prices": _MARKS,
        "open_interest": _OPEN_INTEREST,
        "newest_snapshots": _NEWEST_SNAPSHOTS,
    }
    return {table: text.format(where=where, venue=only, trade_order=venue.trade_order)
            for table, text in sql.items()}  # fmt: skip


# The archive's columns for each query above (a liquidation's notional is computed from two).
_ARCHIVED = {
    "agg_trades": ("time", "price", "qty", "is_buyer_maker"),
    "depth_updates": ("time", "symbol", "market", "transaction_time", "first_update_id",
                      "final_update_id", "prev_final_update_id", "bid_prices", "bid_qtys",
                      "ask_prices", "ask_qtys", "received_at", "extra"),
    "depth_snapshots": DepthSnapshotRow._fields,
    "force_orders": ("time", "side", "avg_price", "filled_qty"),
    "mark_prices": ("time", "mark_price", "funding_rate"),
    "open_interest": ("time", "open_interest"),
}  # fmt: skip


async def fetch_range(
    conn: asyncpg.Connection,
    symbols: tuple[str, ...],
    lo_ms: int,
    hi_ms: int,
    venue: Venue = BINANCE,
) -> dict[str, SymbolRows]:
    """Every row of `symbols` on `venue` with time in [lo_ms, hi_ms), per symbol,
    engine-ordered."""
    if venue.archived:
        archive = await archived(conn, symbols, lo_ms, hi_ms + SNAPSHOT_SLACK_MS)
    else:
        archive = Archived({})
    sql = queries(venue)
    return {s: await _fetch_symbol(conn, archive, sql, s, lo_ms, hi_ms) for s in symbols}


async def _fetch_symbol(
    conn: asyncpg.Connection, archive: Archived, sql: dict[str, str], symbol: str, lo: int, hi: int
) -> SymbolRows:
    rows = SymbolRows()
    times, prices, qtys, makers = await _trades(conn, archive, sql, symbol, lo, hi)
    if times:
        rows.trade_times, rows.trade_prices = times, prices
        rows.trade_qtys, rows.trade_makers = qtys, makers
    events = rows.events
    depth = await _rows(conn, archive, "depth_updates", sql, symbol, lo, hi)
    events += [(r[0], DEPTH, DepthUpdateRow(*r)) for r in depth]
    snapshots = await _snapshots(conn, archive, sql, symbol, lo, hi)
    events += [(r[0], SNAPSHOT, DepthSnapshotRow(*r[1:])) for r in snapshots]
    liquidations = await _rows(conn, archive, "force_orders", sql, symbol, lo, hi)
    events += [(r[0], LIQUIDATION, (r[1] == "SELL", _notional(r))) for r in liquidations]
    marks = await _rows(conn, archive, "mark_prices", sql, symbol, lo, hi)
    events += [(r[0], MARK, (r[1], r[2])) for r in marks]
    interest = await _rows(conn, archive, "open_interest", sql, symbol, lo, hi)
    events += [(r[0], OPEN_INTEREST, r[1]) for r in interest]
    events.sort(key=_event_order)  # stable: keeps each table's own order within a time
    return rows


def _notional(row: tuple) -> float:
    """avg_price * filled_qty: computed by the database, or here for an archived row."""
    return row[2] if len(row) == 3 else row[2] * row[3]


async def _trades(
    conn: asyncpg.Connection, archive: Archived, sql: dict[str, str], symbol: str, lo: int, hi: int
) -> list[list]:
    columns: list[list] = [[], [], [], []]
    for a, b, in_archive in archive.pieces("agg_trades", symbol, lo, hi):
        if in_archive:
            part = archive.read("agg_trades", symbol, _ARCHIVED["agg_trades"], a, b)
        else:
            part = _trade_columns(await conn.fetchrow(sql["agg_trades"], symbol, a, b))
        if not columns[0]:
            columns = [c or [] for c in part]  # array_agg over no rows is NULL
        else:
            for column, values in zip(columns, part, strict=True):
                column += values or []
    return columns


def _trade_columns(row: asyncpg.Record) -> list[list]:
    """`_TRADES`'s row as lists: ms times (floored, as the codec), prices, qtys, makers."""
    if row[0] is None:
        return [[], [], [], []]
    times = np.frombuffer(row[0], ">i8") // 1000 + PG_EPOCH_MS
    return [
        times.tolist(),
        np.frombuffer(row[1], ">f8").tolist(),
        np.frombuffer(row[2], ">f8").tolist(),
        np.frombuffer(row[3], np.bool_).tolist(),
    ]


async def _rows(
    conn: asyncpg.Connection,
    archive: Archived,
    table: str,
    sql: dict[str, str],
    symbol: str,
    lo: int,
    hi: int,
) -> list:
    """`table`'s rows for [lo, hi): the archived pieces from the archive, the rest from its
    query in `sql`."""
    out: list = []
    for a, b, in_archive in archive.pieces(table, symbol, lo, hi):
        if in_archive:
            out += zip(*archive.read(table, symbol, _ARCHIVED[table], a, b), strict=True)
        else:
            out += await conn.fetch(sql[table], symbol, a, b)
    return out


async def _snapshots(
    conn: asyncpg.Connection, archive: Archived, sql: dict[str, str], symbol: str, lo: int, hi: int
) -> list:
    """Snapshots are read by exchange time, archived by fetch time (`time`): the database's rows
    whose `time` is archived are skipped, the archive's are picked by exchange time."""
    table = "depth_snapshots"
    rows = [r for r in await conn.fetch(sql[table], symbol, lo, hi)
            if not archive.covers(table, symbol, r[1])]  # fmt: skip
    for a, b, in_archive in archive.pieces(table, symbol, lo, hi + SNAPSHOT_SLACK_MS):
        if in_archive:
            for r in zip(*archive.read(table, symbol, _ARCHIVED[table], a, b), strict=True):
                at = r[5] if r[5] is not None else r[4] if r[4] is not None else r[0]
                if lo <= at < hi:
                    rows.append((at, *r))
    rows.sort(key=lambda r: (r[0], r[4]))  # at, last_update_id: the query's order
    return rows


def _event_order(event: tuple[int, int, object]) -> tuple[int, int]:
    return event[0], event[1]


async def infer_tick_size(
    conn: asyncpg.Connection, symbol: str, venue: Venue = BINANCE
) -> float | None:
    """The price step of the symbol's book: the smallest gap between recorded snapshot levels."""
    prices = await conn.fetchval(
        "SELECT bid_prices || ask_prices FROM depth_snapshots WHERE symbol = $1 "
        "AND market = $2 AND venue = $3 ORDER BY time DESC LIMIT 1",
        symbol,
        venue.market,
        venue.name,
    )
    return tick_from_prices(prices or [])


async def infer_lot_step(
    conn: asyncpg.Connection, symbol: str, venue: Venue = BINANCE
) -> float | None:
    """The lot step of the symbol: the exchange's, as the recorder stored it from exchangeInfo;
    for a recording without it, the common step of its latest recorded trade quantities (a
    multiple of the true step, which depends on how much of the recording there is)."""
    if (step := await lot_step(conn, symbol, venue.market)) is not None:
        return step
    qtys = await conn.fetchval(
        "SELECT array_agg(qty) FROM (SELECT qty FROM agg_trades WHERE symbol = $1 "
        "AND market = $2 AND venue = $3 ORDER BY time DESC LIMIT 2000) AS latest",
        symbol,
        venue.market,
        venue.name,
    )
    return step_of_quantities(qtys or [])


def tick_from_prices(prices: list[float]) -> float | None:
    levels = sorted(set(prices))
    gaps = [b - a for a, b in pairwise(levels) if b > a]
    if not gaps:
        return None
    smallest = min(gaps)
    # Snap to the decimal step it is (0.1, 0.01, 0.5, ...) so float noise never changes a tick.
    for digits in range(0, 10):
        snapped = round(smallest, digits)
        if snapped > 0 and abs(snapped - smallest) < smallest * 1e-6:
            return snapped
    return smallest


async def data_bounds(
    conn: asyncpg.Connection, symbols: tuple[str, ...], venue: Venue = BINANCE
) -> tuple[int | None, int | None]:
    """The first recorded trade or depth diff of `symbols`, and the last recorded trade.
    One symbol at a time, so each min/max is an index probe, not a scan."""
    firsts: list[int] = []
    lasts: list[int] = []
    for symbol in symbols:
        row = await conn.fetchrow(_BOUNDS, symbol, venue.market, venue.name, venue.archived)
        firsts += [t for t in (row[0], row[1], row[3]) if t is not None]
        lasts += [t for t in (row[2], row[4]) if t is not None]
    return (min(firsts) if firsts else None), (max(lasts) if lasts else None)


# $4: whether the venue's rows are archived (archive_files holds Binance's only).
_BOUNDS = """
SELECT (SELECT min(time) FROM agg_trades WHERE symbol = $1 AND market = $2 AND venue = $3),
       (SELECT min(time) FROM depth_updates WHERE symbol = $1 AND market = $2 AND venue = $3),
       (SELECT max(time) FROM agg_trades WHERE symbol = $1 AND market = $2 AND venue = $3),
       (SELECT min(min_time) FROM archive_files WHERE $4 AND symbol = $1 AND market = $2
           AND table_name IN ('agg_trades', 'depth_updates')),
       (SELECT max(max_time) FROM archive_files WHERE $4 AND symbol = $1 AND market = $2
           AND table_name = 'agg_trades')"""


async def book_seed_start(
    conn: asyncpg.Connection, symbols: tuple[str, ...], before_ms: int, venue: Venue
) -> int | None:
    """When the newest snapshot before `before_ms` of every symbol that has one is in (ms): a
    replay from there holds each symbol's book at `before_ms`. None: no snapshot before it."""
    return await conn.fetchval(queries(venue)["newest_snapshots"], list(symbols), before_ms)
