"""Reads the recorder needs at start-up."""

from __future__ import annotations

import asyncpg

# (table, id column) -> the newest id per symbol; walks the (symbol, time DESC) unique index.
_NEWEST_ID = """
SELECT s.symbol,
       (SELECT t.{column} FROM {table} t
        WHERE t.symbol = s.symbol AND t.market = $2
        ORDER BY t.time DESC, t.{column} DESC LIMIT 1) AS last_id
FROM unnest($1::text[]) AS s(symbol)
"""


async def _newest_ids(
    conn: asyncpg.Connection, table: str, column: str, symbols: list[str], market: str
) -> dict[str, int]:
    rows = await conn.fetch(_NEWEST_ID.format(table=table, column=column), symbols, market)
    return {r["symbol"]: r["last_id"] for r in rows if r["last_id"] is not None}


async def last_agg_trade_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> dict[str, int]:
    """The newest stored aggTrade id per symbol."""
    return await _newest_ids(conn, "agg_trades", "agg_trade_id", symbols, market)


async def last_depth_update_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> dict[str, int]:
    """The ``u`` of the newest stored diff per symbol, so a restart can record the gap since."""
    return await _newest_ids(conn, "depth_updates", "final_update_id", symbols, market)


async def open_trade_gaps(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm", within_hours: float = 48
) -> list[asyncpg.Record]:
    """aggTrade holes recorded but never resolved (the recorder died before backfilling them),
    within the window Binance still serves: (symbol, first_id, last_id, ref)."""
    return await conn.fetch(
        """
        SELECT symbol, first_id, last_id, ref FROM data_gaps
        WHERE stream = 'agg_trades' AND status = 'open' AND market = $2
          AND symbol = ANY($1::text[]) AND detected_at > now() - $3::float8 * interval '1 hour'
        ORDER BY detected_at
        """,
        symbols,
        market,
        within_hours,
    )
