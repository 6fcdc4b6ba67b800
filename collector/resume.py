"""Where the last run stopped, read from the database at start, per market."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from collector.sequence import TradeSequence
from db.connect import connect
from db.readers import last_agg_trade_ids, last_depth_update_ids, open_trade_gaps

log = logging.getLogger(__name__)

# Futures serves /fapi/v1/aggTrades for the past 48 h only; spot serves old ids too.
BACKFILL_WINDOW_HOURS = {"usdm": 48.0, "spot": 24.0 * 365 * 100}


@dataclass
class Resume:
    sequences: dict[str, TradeSequence]
    last_update_ids: dict[str, int]
    open_gaps: list[asyncpg.Record]


async def resume_state(url: str, symbols: list[str], market: str = "usdm") -> Resume:
    conn = await connect(url)
    try:
        last = await last_agg_trade_ids(conn, symbols, market)
        last_u = await last_depth_update_ids(conn, symbols, market)
        window = BACKFILL_WINDOW_HOURS[market]
        gaps = await open_trade_gaps(conn, symbols, market, within_hours=window)
    finally:
        await conn.close()
    if last:
        log.info("resuming %s aggTrade ids from the database: %s", market, last)
    return Resume({s: TradeSequence(last.get(s)) for s in symbols}, last_u, list(gaps))
