"""The `symbols` table: the exchange's description of each instrument (tick, lot step, status),
written by the recorder from exchangeInfo and read by the strategy for sizing and rounding."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from markets import USDM

_UPSERT = """
INSERT INTO symbols (market, symbol, status, base_asset, quote_asset, contract_type, tick_size,
                     step_size, min_qty, min_notional, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (market, symbol) DO UPDATE SET
    status = EXCLUDED.status, base_asset = EXCLUDED.base_asset,
    quote_asset = EXCLUDED.quote_asset, contract_type = EXCLUDED.contract_type,
    tick_size = EXCLUDED.tick_size, step_size = EXCLUDED.step_size, min_qty = EXCLUDED.min_qty,
    min_notional = EXCLUDED.min_notional, updated_at = EXCLUDED.updated_at
"""


async def store_instruments(
    conn: asyncpg.Connection, rows: Sequence[tuple], now: dt.datetime
) -> None:
    """Insert or refresh the rows (collector.rows.InstrumentRow), in one transaction."""
    async with conn.transaction():
        await conn.executemany(_UPSERT, [(*row, now) for row in rows])


async def lot_step(conn: asyncpg.Connection, symbol: str, market: str = USDM) -> float | None:
    """The exchange's lot step of the symbol; None when no recorder has described it."""
    return await conn.fetchval(
        "SELECT step_size FROM symbols WHERE market = $1 AND symbol = $2", market, symbol
    )
