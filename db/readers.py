"""Reads the recorder needs at start-up."""

from __future__ import annotations

import datetime as dt

import asyncpg

from markets import USDM

# (table, id column) -> the newest id per symbol and its time; walks the (symbol, time DESC)
# unique index.
_NEWEST_ID = """
SELECT s.symbol, n.last_id, n.time
FROM unnest($1::text[]) AS s(symbol)
CROSS JOIN LATERAL (
    SELECT t.{column} AS last_id, t.time FROM {table} t
    WHERE t.symbol = s.symbol AND t.market = $2
    ORDER BY t.time DESC, t.{column} DESC LIMIT 1
) n
"""

Newest = dict[str, tuple[int, dt.datetime]]


async def _newest(
    conn: asyncpg.Connection, table: str, column: str, symbols: list[str], market: str
) -> Newest:
    rows = await conn.fetch(_NEWEST_ID.format(table=table, column=column), symbols, market)
    return {r["symbol"]: (r["last_id"], r["time"]) for r in rows if r["last_id"] is not None}


async def last_agg_trades(
    conn: asyncpg.Connection, symbols: list[str], market: str = USDM
) -> Newest:
    """The newest stored aggTrade id per symbol, with its trade time."""
    return await _newest(conn, "agg_trades", "agg_trade_id", symbols, market)


async def last_depth_updates(
    conn: asyncpg.Connection, symbols: list[str], market: str = USDM
) -> Newest:
    """The ``u`` of the newest stored diff per symbol and its event time, so a restart can
    record the gap since (and tell a replayed diff from ids that started again)."""
    return await _newest(conn, "depth_updates", "final_update_id", symbols, market)


async def last_agg_trade_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = USDM
) -> dict[str, int]:
    """The newest stored aggTrade id per symbol."""
    return {s: i for s, (i, _) in (await last_agg_trades(conn, symbols, market)).items()}


async def last_depth_update_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = USDM
) -> dict[str, int]:
    """The ``u`` of the newest stored diff per symbol."""
    return {s: i for s, (i, _) in (await last_depth_updates(conn, symbols, market)).items()}


_NEWEST_TIME = """
SELECT s.symbol, (SELECT max(t.time) FROM {table} t WHERE t.symbol = s.symbol AND t.venue = $2)
       AS t
FROM unnest($1::text[]) AS s(symbol)
"""


async def newest_times(
    conn: asyncpg.Connection, table: str, symbols: list[str], venue: str = "binance"
) -> dict[str, dt.datetime]:
    """The time of the newest stored row per symbol of a futures-only table (mark_prices,
    open_interest) of `venue` (these tables have no market column: another venue's rows of the
    same symbol must not hide a gap), so a restart declares what was missed while the recorder
    was down."""
    rows = await conn.fetch(_NEWEST_TIME.format(table=table), symbols, venue)
    return {r["symbol"]: r["t"] for r in rows if r["t"] is not None}


# A gap's ids lie between its start_time and end_time when the recorder knew them; older rows
# (and holes of ids dropped with a full spool) are looked for from a window before detection.
_UNFILLED = """
SELECT g.symbol, g.first_id, g.last_id, g.ref, g.status
FROM data_gaps g
WHERE g.stream = 'agg_trades' AND g.market = $2 AND g.symbol = ANY($1::text[])
  AND g.first_id IS NOT NULL AND g.last_id >= g.first_id
  AND (g.detected_at > now() - $4::float8 * interval '1 hour'
       OR (g.status = 'open' AND g.detected_at > now() - $3::float8 * interval '1 hour'))
  AND (SELECT count(*) FROM agg_trades t
       WHERE t.symbol = g.symbol AND t.market = g.market
         AND t.agg_trade_id BETWEEN g.first_id AND g.last_id
         AND t.time >= coalesce(g.start_time, g.detected_at - interval '48 hours')
         AND t.time <= coalesce(g.end_time, g.detected_at) + interval '1 hour'
      ) < g.last_id - g.first_id + 1
ORDER BY g.detected_at
"""


async def unfilled_trade_gaps(
    conn: asyncpg.Connection,
    symbols: list[str],
    market: str = USDM,
    within_hours: float = 48,
    verify_hours: float = 48,
) -> list[asyncpg.Record]:
    """aggTrade holes whose ids are not all stored: every gap of the past ``verify_hours``
    whatever its status (a crash may have lost a repair the ledger already recorded), and
    gaps still open within ``within_hours``: (symbol, first_id, last_id, ref, status)."""
    return await conn.fetch(_UNFILLED, symbols, market, within_hours, verify_hours)


async def trade_gap_symbols(
    conn: asyncpg.Connection, market: str = USDM, within_hours: float = 48
) -> set[str]:
    """The symbols with an aggTrade gap declared in the past ``within_hours``."""
    rows = await conn.fetch(
        "SELECT DISTINCT symbol FROM data_gaps WHERE stream = 'agg_trades' AND market = $1"
        " AND first_id IS NOT NULL AND detected_at > now() - $2::float8 * interval '1 hour'",
        market,
        within_hours,
    )
    return {r["symbol"] for r in rows}


async def open_depth_gaps(
    conn: asyncpg.Connection, symbols: list[str], market: str, within_hours: float
) -> list[asyncpg.Record]:
    """Depth gaps of the past ``within_hours`` still open (a run stopped before a snapshot
    closed them): (symbol, ref)."""
    return await conn.fetch(
        "SELECT symbol, ref FROM data_gaps WHERE stream = 'depth_updates' AND status = 'open'"
        " AND market = $2 AND symbol = ANY($1::text[]) AND ref IS NOT NULL"
        " AND detected_at > now() - $3::float8 * interval '1 hour'",
        symbols,
        market,
        within_hours,
    )


# Stored ids that do not follow the one before them (by time, then id), per symbol, from `since`
# on; the newest row before `since` is taken along so a break at the edge is seen too. {before}
# is the last id the row says it follows: an aggTrade's id - 1, a futures diff's pu, a spot
# diff's U - 1. Ids that go back (a new sequence era) are not breaks.
_BREAKS = """
WITH w AS (
    SELECT symbol, time, {id} AS id, {before} AS before FROM {table}
    WHERE market = $2 AND symbol = ANY($1::text[]) AND time >= $3
    UNION ALL
    SELECT s.symbol, p.time, p.id, p.before FROM unnest($1::text[]) AS s(symbol)
    CROSS JOIN LATERAL (
        SELECT t.time, t.{id} AS id, {before_t} AS before FROM {table} t
        WHERE t.symbol = s.symbol AND t.market = $2 AND t.time < $3
        ORDER BY t.time DESC, t.{id} DESC LIMIT 1
    ) p
)
SELECT symbol, prev_id + 1 AS first_id, before AS last_id, prev_time, time
FROM (
    SELECT symbol, time, before,
           lag(id) OVER (PARTITION BY symbol ORDER BY time, id) AS prev_id,
           lag(time) OVER (PARTITION BY symbol ORDER BY time, id) AS prev_time
    FROM w
) b
WHERE before > prev_id
ORDER BY symbol, time
"""
_BREAK_COLUMNS = {
    "agg_trades": ("agg_trade_id", "agg_trade_id - 1", "t.agg_trade_id - 1"),
    "depth_updates": (
        "final_update_id",
        "coalesce(prev_final_update_id, first_update_id - 1)",
        "coalesce(t.prev_final_update_id, t.first_update_id - 1)",
    ),
}


async def id_breaks(
    conn: asyncpg.Connection, table: str, symbols: list[str], market: str, since: dt.datetime
) -> list[asyncpg.Record]:
    """Holes in the stored ids of ``agg_trades`` or ``depth_updates`` from ``since`` on:
    (symbol, first_id, last_id missing, prev_time, time of the row after the hole)."""
    id_col, before, before_t = _BREAK_COLUMNS[table]
    sql = _BREAKS.format(table=table, id=id_col, before=before, before_t=before_t)
    return await conn.fetch(sql, symbols, market, since)


async def declared_spans(
    conn: asyncpg.Connection, stream: str, market: str, since: dt.datetime
) -> list[asyncpg.Record]:
    """The gaps declared for ``stream`` since ``since``: (symbol, first_id, last_id, start_time,
    end_time). Rows a full spool dropped are declared by time span only, with no symbol."""
    return await conn.fetch(
        "SELECT symbol, first_id, last_id, start_time, end_time FROM recorder_events"
        " WHERE kind = 'gap' AND stream = $1 AND (market = $2 OR market IS NULL)"
        " AND venue = 'binance'"
        " AND time >= $3",
        stream,
        market,
        since,
    )


async def last_event_time(conn: asyncpg.Connection) -> dt.datetime | None:
    """When the newest committed ``recorder_events`` row of Binance's recorder happened."""
    return await conn.fetchval("SELECT max(time) FROM recorder_events WHERE venue = 'binance'")
