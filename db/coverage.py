"""Holes left in a range of the recorded history (the ``coverage_holes`` view), for the warning
a backtest prints before a user trusts its result."""

from __future__ import annotations

import datetime as dt

import asyncpg

from db.connect import connect
from markets import USDM

SHOWN = 10  # ranges listed; the rest are counted


async def unrepaired_holes(
    conn: asyncpg.Connection, symbols: list[str], start_ms: int, end_ms: int, market: str = USDM
) -> list[asyncpg.Record]:
    """Holes not repaired whose span overlaps [start_ms, end_ms), oldest first."""
    return await conn.fetch(
        "SELECT symbol, stream, start_time, end_time, status, first_id, last_id"
        " FROM coverage_holes WHERE NOT repaired AND market = $1"
        " AND (symbol IS NULL OR symbol = ANY($2::text[]))"
        " AND start_time < to_timestamp($4 / 1000.0) AND end_time >= to_timestamp($3 / 1000.0)"
        " ORDER BY start_time, stream, symbol",
        market,
        symbols,
        start_ms,
        end_ms,
    )


def describe(holes: list[asyncpg.Record]) -> list[str]:
    """One warning line, then one line per range (at most SHOWN)."""
    if not holes:
        return []
    span = sum(((h["end_time"] - h["start_time"]) for h in holes), dt.timedelta())
    lines = [
        f"warning: the range holds {len(holes)} unrepaired hole(s) ({span.total_seconds():.1f} s"
        " of data missing); see the coverage view:"
    ]
    for h in holes[:SHOWN]:
        ids = f" ids {h['first_id']}..{h['last_id']}" if h["first_id"] is not None else ""
        lines.append(
            f"  {h['symbol'] or '(all symbols)'} {h['stream']} {h['start_time'].isoformat()}"
            f" .. {h['end_time'].isoformat()} {h['status']}{ids}"
        )
    if len(holes) > SHOWN:
        lines.append(f"  ... and {len(holes) - SHOWN} more")
    return lines


async def range_warnings(url: str, symbols: list[str], start_ms: int, end_ms: int) -> list[str]:
    conn = await connect(url)
    try:
        return describe(await unrepaired_holes(conn, symbols, start_ms, end_ms))
    finally:
        await conn.close()
