"""Reads the recorder needs at start-up."""

from __future__ import annotations

import datetime as dt

import asyncpg

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
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> Newest:
    """The newest stored aggTrade id per symbol, with its trade time."""
    return await _newest(conn, "agg_trades", "agg_trade_id", symbols, market)


async def last_depth_updates(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> Newest:
    """The ``u`` of the newest stored diff per symbol and its event time, so a restart can
    record the gap since (and tell a replayed diff from ids that started again)."""
    return await _newest(conn, "depth_updates", "final_update_id", symbols, market)


async def last_agg_trade_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> dict[str, int]:
    """The newest stored aggTrade id per symbol."""
    return {s: i for s, (i, _) in (await last_agg_trades(conn, symbols, market)).items()}


async def last_depth_update_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> dict[str, int]:
    """The ``u`` of the newest stored diff per symbol."""
    return {s: i for s, (i, _) in (await last_depth_updates(conn, symbols, market)).items()}


_NEWEST_TIME = """
SELECT s.symbol, (SELECT max(t.time) FROM {table} t WHERE t.symbol = s.symbol) AS t
FROM unnest($1::text[]) AS s(symbol)
"""


async def newest_times(
    conn: asyncpg.Connection, table: str, symbols: list[str]
) -> dict[str, dt.datetime]:
    """The time of the newest stored row per symbol of a futures-only table (mark_prices,
    open_interest), so a restart declares what was missed while the recorder was down."""
    rows = await conn.fetch(_NEWEST_TIME.format(table=table), symbols)
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
    market: str = "usdm",
    within_hours: float = 48,
    verify_hours: float = 48,
) -> list[asyncpg.Record]:
    """aggTrade holes whose ids are not all stored: every gap of the past ``verify_hours``
    whatever its status (a crash may have lost a repair the ledger already recorded), and
    gaps still open within ``within_hours``: (symbol, first_id, last_id, ref, status)."""
    return await conn.fetch(_UNFILLED, symbols, market, within_hours, verify_hours)
