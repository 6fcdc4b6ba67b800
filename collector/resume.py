"""Where the last run stopped, read from the database at start, per market.

A hole's ``gap`` row and the rows around it are committed by different table writers, so a run
killed at the wrong moment can leave a hole in the stored ids that no ``gap`` row declares (the
rows after it committed, the declaration not). At start the recent stored ids are scanned for
such holes (``undeclared_holes``); the recorder declares each and backfills or resyncs it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from collector.venues.binance.sequence import ID_SLACK, MAX_IDS_PER_SECOND, TradeSequence, plausible
from db.connect import connect
from db.readers import (
    declared_spans,
    id_breaks,
    last_agg_trades,
    last_depth_updates,
    last_event_time,
    newest_times,
    open_depth_gaps,
    unfilled_trade_gaps,
)
from markets import USDM

log = logging.getLogger(__name__)

# Futures serves /fapi/v1/aggTrades for the past 48 h only; spot serves old ids too.
BACKFILL_WINDOW_HOURS = {USDM: 48.0, "spot": 24.0 * 365 * 100}
# Every gap this recent is checked against the stored ids, whatever the ledger says of it.
VERIFY_HOURS = 48.0
# The undeclared-hole scan starts this long before the newest committed recorder_events row:
# a declaration put after it may be lost, and rows carry exchange times, a little behind.
SCAN_MARGIN = dt.timedelta(minutes=10)
UNDECLARED = "undeclared at start"  # the reason of a gap found by that scan
Row = Mapping[str, Any]  # an asyncpg.Record


@dataclass(frozen=True)
class Hole:
    """Ids missing in the stored rows of a stream, between rows stored at ``after``, ``before``."""

    symbol: str
    first_id: int
    last_id: int
    after: dt.datetime
    before: dt.datetime


@dataclass
class Resume:
    sequences: dict[str, TradeSequence]
    last_update_ids: dict[str, tuple[int, dt.datetime]]  # symbol -> (u, E) of the newest diff
    open_gaps: list[asyncpg.Record]  # holes whose ids are not all stored
    last_marks: dict[str, dt.datetime]  # symbol -> E of the newest stored mark price (futures)
    last_open_interest: dict[str, dt.datetime]  # symbol -> time of the newest stored sample
    # stream -> holes in the stored ids that no gap row declares (a crash lost the declaration)
    undeclared: dict[str, list[Hole]] = field(default_factory=dict)
    # depth gaps an earlier run declared and stopped before a snapshot closed: (symbol, ref)
    open_depth_gaps: list[asyncpg.Record] = field(default_factory=list)


async def resume_state(url: str, symbols: list[str], market: str = USDM) -> Resume:
    conn = await connect(url)
    try:
        last = await last_agg_trades(conn, symbols, market)
        last_u = await last_depth_updates(conn, symbols, market)
        window = BACKFILL_WINDOW_HOURS[market]
        gaps = await unfilled_trade_gaps(conn, symbols, market, window, VERIFY_HOURS)
        futures = market == USDM  # mark prices and open interest: futures only
        marks = await newest_times(conn, "mark_prices", symbols) if futures else {}
        oi = await newest_times(conn, "open_interest", symbols) if futures else {}
        undeclared = await undeclared_holes(conn, symbols, market)
        depth_gaps = await open_depth_gaps(conn, symbols, market, VERIFY_HOURS)
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
    return Resume(sequences, last_u, list(gaps), marks, oi, undeclared, list(depth_gaps))


async def undeclared_holes(
    conn: asyncpg.Connection, symbols: list[str], market: str
) -> dict[str, list[Hole]]:
    """Holes in the stored aggTrade and depth ids since shortly before the newest committed
    recorder_events row (at most VERIFY_HOURS back) that no gap row covers."""
    now = dt.datetime.now(dt.UTC)
    newest = await last_event_time(conn)
    floor = now - dt.timedelta(hours=VERIFY_HOURS)
    since = max(floor, newest - SCAN_MARGIN) if newest is not None else floor
    found: dict[str, list[Hole]] = {}
    for table in ("agg_trades", "depth_updates"):
        declared = await declared_spans(conn, table, market, since - dt.timedelta(days=2))
        for b in await id_breaks(conn, table, symbols, market, since):
            ahead, quiet = b["last_id"] - b["first_id"] + 2, b["time"] - b["prev_time"]
            if table == "agg_trades" and not plausible(ahead, quiet, MAX_IDS_PER_SECOND, ID_SLACK):
                continue  # ids that jumped beyond reach: a new sequence, as the live check says
            for lo, hi in uncovered(b, declared):
                hole = Hole(b["symbol"], lo, hi, b["prev_time"], b["time"])
                found.setdefault(table, []).append(hole)
                log.warning(
                    "%s: %s ids %d..%d are missing and no gap declares them (the last run"
                    " stopped before it could): declaring them now",
                    hole.symbol, table, lo, hi,
                )  # fmt: skip
    return found


def uncovered(brk: Row, declared: list[Row]) -> list[tuple[int, int]]:
    """The parts of a break's missing ids that no declared gap covers: by ids, or (rows dropped
    with a full spool, declared by time only) by a span that reaches into the break's."""
    parts = [(brk["first_id"], brk["last_id"])]
    for g in declared:
        if g["symbol"] not in (None, brk["symbol"]):
            continue
        if g["first_id"] is not None:
            parts = _minus(parts, g["first_id"], g["last_id"] or g["first_id"])
        elif _overlaps(g["start_time"], g["end_time"], brk["prev_time"], brk["time"]):
            return []
    return parts


def _overlaps(
    start: dt.datetime | None, end: dt.datetime | None, after: dt.datetime, before: dt.datetime
) -> bool:
    return start is not None and end is not None and start < before and end > after


def _minus(parts: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    kept = []
    for a, b in parts:
        if hi < a or lo > b:
            kept.append((a, b))
            continue
        if a < lo:
            kept.append((a, lo - 1))
        if b > hi:
            kept.append((hi + 1, b))
    return kept
