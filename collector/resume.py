"""Where the last run stopped, read from the database at start, per market."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import asyncpg

from collector.sequence import TradeSequence
from db.connect import connect
from db.readers import last_agg_trades, last_depth_updates, newest_times, unfilled_trade_gaps

log = logging.getLogger(__name__)

# Futures serves /fapi/v1/aggTrades for the past 48 h only; spot serves old ids too.
BACKFILL_WINDOW_HOURS = {"usdm": 48.0, "spot": 24.0 * 365 * 100}
# Every gap this recent is checked against the stored ids, whatever the ledger says of it.
VERIFY_HOURS = 48.0


@dataclass
class Resume:
    sequences: dict[str, TradeSequence]
    last_update_ids: dict[str, tuple[int, dt.datetime]]  # symbol -> (u, E) of the newest diff
    open_gaps: list[asyncpg.Record]  # holes whose ids are not all stored
    last_marks: dict[str, dt.datetime]  # symbol -> E of the newest stored mark price (futures)
    last_open_interest: dict[str, dt.datetime]  # symbol -> time of the newest stored sample


async def resume_state(url: str, symbols: list[str], market: str = "usdm") -> Resume:
    conn = await connect(url)
    try:
        last = await last_agg_trades(conn, symbols, market)
        last_u = await last_depth_updates(conn, symbols, market)
        window = BACKFILL_WINDOW_HOURS[market]
        gaps = await unfilled_trade_gaps(conn, symbols, market, window, VERIFY_HOURS)
        futures = market == "usdm"  # mark prices and open interest: futures only
        marks = await newest_times(conn, "mark_prices", symbols) if futures else {}
        oi = await newest_times(conn, "open_interest", symbols) if futures else {}
    finally:
        await conn.close()
    if last:
        since = ", ".join(f"{s} after id {i} ({t.isoformat()})" for s, (i, t) in last.items())
        log.info("resuming %s aggTrade ids from the database: %s", market, since)
    for gap in gaps:
        if gap["status"] != "open":
            log.warning(
                "%s: aggTrade ids %d..%d are recorded as %s but not all stored: fetching again",
                gap["symbol"], gap["first_id"], gap["last_id"], gap["status"],
            )  # fmt: skip
    sequences = {s: TradeSequence(*last.get(s, (None, None))) for s in symbols}
    return Resume(sequences, last_u, list(gaps), marks, oi)
