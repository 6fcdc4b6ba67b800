"""Shard leases in ``recorder_leases`` / ``recorder_members`` (sql/021): the statements only.

Every change is one plain UPDATE whose WHERE says who may make it (the owner, or anyone once a
lease has expired); PostgreSQL's row locks decide between recorders racing for the same row,
and ``FOR UPDATE SKIP LOCKED`` lets them take different free rows at once instead of waiting.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

_JOIN = """
INSERT INTO recorder_members (owner, started_at, heartbeat_at, expires_at, symbols)
VALUES ($1, $2, now(), now() + $3 * interval '1 second', $4)
ON CONFLICT (owner) DO UPDATE
SET heartbeat_at = now(), expires_at = EXCLUDED.expires_at, symbols = EXCLUDED.symbols
"""
_LIVE = "SELECT count(*) FROM recorder_members WHERE expires_at > now() OR owner = $1"
_FORGET = "DELETE FROM recorder_members WHERE expires_at < now() - interval '1 hour'"
_OFFER = """
INSERT INTO recorder_leases (market, symbol) SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING
"""
# A lease of mine that nobody took while I was late is still mine: renewing it is safe.
_RENEW = """
UPDATE recorder_leases
SET heartbeat_at = now(), expires_at = now() + $3 * interval '1 second', watermark = $4
WHERE market = $1 AND owner = $2
RETURNING symbol
"""
_TAKE = """
WITH free AS (
    SELECT market, symbol FROM recorder_leases
    WHERE market = $1 AND symbol = ANY($2::text[]) AND expires_at < now()
    ORDER BY symbol
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
UPDATE recorder_leases l
SET owner = $3, acquired_at = now(), heartbeat_at = now(),
    expires_at = now() + $5 * interval '1 second',
    previous_owner = coalesce(l.owner, l.previous_owner),
    takeover_floor = least(l.takeover_floor, l.watermark),
    watermark = NULL
FROM free
WHERE l.market = free.market AND l.symbol = free.symbol
RETURNING l.symbol
"""
# A released lease keeps its owner's watermark as the floor for whoever takes it next.
_RELEASE = """
UPDATE recorder_leases
SET owner = NULL, expires_at = '-infinity', previous_owner = owner, watermark = $4
WHERE market = $1 AND owner = $2 AND symbol = ANY($3::text[])
"""
_SETTLED = """
UPDATE recorder_leases SET previous_owner = NULL, takeover_floor = NULL
WHERE market = $1 AND owner = $2 AND symbol = ANY($3::text[])
"""
_LEAVE = "DELETE FROM recorder_members WHERE owner = $1"
# For the strategy worker: each owner's last written watermark, and the floors of takeovers.
_FLOORS = """
SELECT owner, min(watermark) AS watermark, min(takeover_floor) AS floor
FROM recorder_leases
WHERE (owner IS NOT NULL OR takeover_floor IS NOT NULL)
  AND expires_at > now() - $1 * interval '1 second'
GROUP BY owner
"""


async def join(
    conn: asyncpg.Connection, owner: str, started: dt.datetime, lease_seconds: float, held: int
) -> int:
    """Renew ``owner``'s membership; returns how many recorders are live (itself included)."""
    async with conn.transaction():
        await conn.execute(_JOIN, owner, started, lease_seconds, held)
        await conn.execute(_FORGET)
        return int(await conn.fetchval(_LIVE, owner))


async def offer(conn: asyncpg.Connection, market: str, symbols: list[str]) -> None:
    """Make sure a lease row exists for every symbol (free until someone takes it)."""
    await conn.execute(_OFFER, market, symbols)


async def renew(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    lease_seconds: float,
    watermark: dt.datetime | None,
) -> list[str]:
    """Extend every lease ``owner`` still holds; returns their symbols."""
    return [r[0] for r in await conn.fetch(_RENEW, market, owner, lease_seconds, watermark)]


async def take(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    universe: list[str],
    count: int,
    lease_seconds: float,
) -> list[str]:
    """Take up to ``count`` free (expired or released) leases of ``universe``."""
    if count <= 0:
        return []
    return [r[0] for r in await conn.fetch(_TAKE, market, universe, owner, count, lease_seconds)]


async def release(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    symbols: list[str],
    watermark: dt.datetime | None,
) -> None:
    await conn.execute(_RELEASE, market, owner, symbols, watermark)


async def settled(conn: asyncpg.Connection, market: str, owner: str, symbols: list[str]) -> None:
    """What the takeover of ``symbols`` missed is repaired and committed."""
    await conn.execute(_SETTLED, market, owner, symbols)


async def leave(conn: asyncpg.Connection, owner: str) -> None:
    await conn.execute(_LEAVE, owner)


async def floors(
    conn: asyncpg.Connection, grace: float
) -> list[tuple[str | None, dt.datetime | None, dt.datetime | None]]:
    """(owner, its last written watermark, lowest takeover floor of its leases) per owner of a
    lease that has not been expired for ``grace`` seconds (one nobody took over is not waited
    for longer)."""
    return [(r[0], r[1], r[2]) for r in await conn.fetch(_FLOORS, grace)]
