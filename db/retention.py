"""Retention per table (RETENTION=depth_updates=7d,...).

With the community license TimescaleDB's own policy does it; with the Apache-only build the
recorder calls ``drop_chunks`` on a schedule (``drop_expired_chunks``). Either way whole chunks
are dropped, so data up to one chunk interval older than the limit may stay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import asyncpg


async def apply_policies(conn: asyncpg.Connection, retention: Mapping[str, float]) -> list[str]:
    """Install/replace retention policies (community license only); returns what it did."""
    done = []
    for table, seconds in retention.items():
        await conn.execute("SELECT remove_retention_policy($1::regclass, if_exists => true)", table)
        await conn.execute(
            "SELECT add_retention_policy($1::regclass, drop_after => $2::interval)",
            table,
            dt.timedelta(seconds=seconds),
        )
        done.append(f"{table}: keep {dt.timedelta(seconds=seconds)}")
    return done


async def drop_expired_chunks(
    conn: asyncpg.Connection, retention: Mapping[str, float], now: dt.datetime
) -> dict[str, int]:
    """Apache-license fallback: drop chunks entirely older than the limit; returns counts."""
    dropped = {}
    for table, seconds in retention.items():
        rows = await conn.fetch(
            "SELECT drop_chunks($1::regclass, older_than => $2::timestamptz)",
            table,
            now - dt.timedelta(seconds=seconds),
        )
        dropped[table] = len(rows)
    return dropped
