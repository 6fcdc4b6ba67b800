"""Reads the recorder needs at start-up."""

from __future__ import annotations

import asyncpg


async def last_agg_trade_ids(
    conn: asyncpg.Connection, symbols: list[str], market: str = "usdm"
) -> dict[str, int]:
    """The newest stored aggTrade id per symbol (walks the (symbol, time DESC) index)."""
    rows = await conn.fetch(
        """
        SELECT s.symbol,
               (SELECT agg_trade_id FROM agg_trades t
                WHERE t.symbol = s.symbol AND t.market = $2
                ORDER BY t.time DESC, t.agg_trade_id DESC LIMIT 1) AS last_id
        FROM unnest($1::text[]) AS s(symbol)
        """,
        symbols,
        market,
    )
    return {r["symbol"]: r["last_id"] for r in rows if r["last_id"] is not None}
