"""Shard leases in ``recorder_leases`` / ``recorder_members`` (sql/021, slots sql/029): the
statements only.

Every change is one plain UPDATE whose WHERE says who may make it (the owner, or anyone once a
lease has expired); PostgreSQL's row locks decide between recorders racing for the same row,
and a take re-checks expiry on the locked row, so of two recorders racing for one only one wins.
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
INSERT INTO recorder_leases (market, symbol, slot)
SELECT $1, s, n FROM unnest($2::text[]) AS s, generate_series(0, $3 - 1) AS n
ON CONFLICT DO NOTHING
"""
# A lease of mine that nobody took while I was late is still mine: renewing it is safe.
_RENEW = """
UPDATE recorder_leases
SET heartbeat_at = now(), expires_at = now() + $3 * interval '1 second', watermark = $4
WHERE market = $1 AND owner = $2
RETURNING symbol, slot
"""
# A lease changing hands keeps the previous owner's watermark as the floor of the takeover.
_TOOK = """owner = {owner}, acquired_at = now(), heartbeat_at = now(),
    expires_at = now() + {seconds} * interval '1 second',
    previous_owner = coalesce(l.owner, l.previous_owner),
    takeover_floor = least(l.takeover_floor, l.watermark),
    watermark = NULL"""
# One free slot per symbol (the lowest), never a second slot of a symbol I hold; slot 0 (the
# leader's) only when no live standby of the symbol is there to move up to it; symbols whose
# live copies run on other hosts first. Candidates are read without locks (DISTINCT ON cannot
# lock): the UPDATE re-checks expiry on the locked row, so a racing recorder wins it cleanly.
_TAKE = (
    """
WITH free AS (
    SELECT DISTINCT ON (l.symbol) l.market, l.symbol, l.slot,
           EXISTS (SELECT 1 FROM recorder_leases o
                   WHERE o.market = l.market AND o.symbol = l.symbol AND o.expires_at > now()
                     AND split_part(o.owner, ':', 1) = split_part($3, ':', 1)) AS same_host
    FROM recorder_leases l
    WHERE l.market = $1 AND l.symbol = ANY($2::text[]) AND l.expires_at < now() AND l.slot < $6
      AND NOT EXISTS (SELECT 1 FROM recorder_leases m
                      WHERE m.market = l.market AND m.symbol = l.symbol AND m.owner = $3)
      AND (l.slot > 0 OR NOT EXISTS (SELECT 1 FROM recorder_leases o
                                     WHERE o.market = l.market AND o.symbol = l.symbol
                                       AND o.slot > 0 AND o.expires_at > now()))
    ORDER BY l.symbol, l.slot
), pick AS (
    SELECT * FROM free ORDER BY same_host, symbol LIMIT $4
)
UPDATE recorder_leases l
SET """
    + _TOOK.format(owner="$3", seconds="$5")
    + """
FROM pick
WHERE l.market = pick.market AND l.symbol = pick.symbol AND l.slot = pick.slot
  AND l.expires_at < now()
RETURNING l.symbol, l.slot
"""
)
# A standby whose leader's lease expired takes slot 0 and frees its own slot (same transaction).
_PROMOTE = (
    """
WITH free AS (
    SELECT l.market, l.symbol FROM recorder_leases l
    WHERE l.market = $1 AND l.slot = 0 AND l.expires_at < now()
      AND EXISTS (SELECT 1 FROM recorder_leases m
                  WHERE m.market = l.market AND m.symbol = l.symbol AND m.owner = $2
                    AND m.slot > 0)
    FOR UPDATE SKIP LOCKED
)
UPDATE recorder_leases l
SET """
    + _TOOK.format(owner="$2", seconds="$3")
    + """
FROM free
WHERE l.market = free.market AND l.symbol = free.symbol AND l.slot = 0 AND l.expires_at < now()
RETURNING l.symbol
"""
)
# A released lease keeps its owner's watermark as the floor for whoever takes it next.
_RELEASE = """
UPDATE recorder_leases
SET owner = NULL, expires_at = '-infinity', previous_owner = owner, watermark = $4
WHERE market = $1 AND owner = $2 AND symbol = ANY($3::text[])
"""
_STEP_DOWN = _RELEASE + "  AND slot > 0\n"
_SETTLED = """
UPDATE recorder_leases SET previous_owner = NULL, takeover_floor = NULL
WHERE market = $1 AND owner = $2 AND symbol = ANY($3::text[])
"""
_COVERED = """
SELECT DISTINCT symbol FROM recorder_leases
WHERE market = $1 AND symbol = ANY($3::text[]) AND owner <> $2 AND expires_at > now()
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


async def offer(conn: asyncpg.Connection, market: str, symbols: list[str], slots: int = 1) -> None:
    """Make sure a lease row exists for every slot of every symbol (free until someone takes it)."""
    await conn.execute(_OFFER, market, symbols, slots)


async def renew(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    lease_seconds: float,
    watermark: dt.datetime | None,
) -> list[str]:
    """Extend every lease ``owner`` still holds; returns their symbols."""
    return list(await renew_slots(conn, market, owner, lease_seconds, watermark))


async def renew_slots(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    lease_seconds: float,
    watermark: dt.datetime | None,
) -> dict[str, int]:
    """Extend every lease ``owner`` still holds; returns their symbols and slots."""
    rows = await conn.fetch(_RENEW, market, owner, lease_seconds, watermark)
    return {r[0]: r[1] for r in rows}


async def take(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    universe: list[str],
    count: int,
    lease_seconds: float,
) -> list[str]:
    """Take up to ``count`` free (expired or released) leases of ``universe`` (one slot each)."""
    return list(await take_slots(conn, market, owner, universe, count, lease_seconds))


async def take_slots(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    universe: list[str],
    count: int,
    lease_seconds: float,
    slots: int = 1,
) -> dict[str, int]:
    """Take up to ``count`` free (expired or released) leases of ``universe``, at most one slot
    of ``slots`` per symbol; returns their symbols and slots."""
    if count <= 0:
        return {}
    args = (market, universe, owner, count, lease_seconds, slots)
    return {r[0]: r[1] for r in await conn.fetch(_TAKE, *args)}


async def promote(
    conn: asyncpg.Connection,
    market: str,
    owner: str,
    lease_seconds: float,
    watermark: dt.datetime | None,
) -> list[str]:
    """Move ``owner`` up to slot 0 of every symbol it holds a standby slot of whose leader's
    lease expired, freeing the standby slot; returns those symbols."""
    async with conn.transaction():
        up = [r[0] for r in await conn.fetch(_PROMOTE, market, owner, lease_seconds)]
        if up:
            await conn.execute(_STEP_DOWN, market, owner, up, watermark)
    return up


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


async def covered(
    conn: asyncpg.Connection, market: str, owner: str, symbols: list[str]
) -> set[str]:
    """Those of ``symbols`` that another recorder holds a live slot of."""
    return {r[0] for r in await conn.fetch(_COVERED, market, owner, symbols)}


async def leave(conn: asyncpg.Connection, owner: str) -> None:
    await conn.execute(_LEAVE, owner)


async def floors(
    conn: asyncpg.Connection, grace: float
) -> list[tuple[str | None, dt.datetime | None, dt.datetime | None]]:
    """(owner, its last written watermark, lowest takeover floor of its leases) per owner of a
    lease that has not been expired for ``grace`` seconds (one nobody took over is not waited
    for longer)."""
    return [(r[0], r[1], r[2]) for r in await conn.fetch(_FLOORS, grace)]
