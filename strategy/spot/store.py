"""The spot executor's table, ``spot_deals`` (sql/026): a deal is written before each order
it sends, so its client id can be asked after a restart."""

from __future__ import annotations

import uuid
from dataclasses import astuple, fields

import asyncpg

from strategy.spot.deal import OPEN_STATES, Deal

COLUMNS = [f.name for f in fields(Deal)]
_VALUES = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
_ENDED = f"CASE WHEN ${len(COLUMNS) + 1}::text[] @> ARRAY[$4::text] THEN NULL ELSE now() END"
# column names come from the dataclass, every value is a parameter
_UPSERT = f"""
INSERT INTO spot_deals ({", ".join(COLUMNS)}, closed_at) VALUES ({_VALUES}, {_ENDED})
ON CONFLICT (deal_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])}, updated_at = now(),
    closed_at = coalesce(spot_deals.closed_at, EXCLUDED.closed_at)"""


class DealStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def save(self, deal: Deal) -> None:
        await self.pool.execute(_UPSERT, *astuple(deal), list(OPEN_STATES))

    async def open_deals(self) -> list[Deal]:
        rows = await self.pool.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM spot_deals WHERE state = ANY($1::text[])"
            " ORDER BY created_at",
            list(OPEN_STATES),
        )
        return [Deal(**dict(row)) for row in rows]

    async def mark_flatten(self) -> list[Deal]:
        """The open deals, those buying or selling marked as being flattened (reason ``flatten``)
        before any of their orders is cancelled: a worker running meanwhile leaves them alone
        (executor.py). A deal stopping keeps its stop's reason until flatten sells for it."""
        rows = await self.pool.fetch(
            "UPDATE spot_deals SET updated_at = now(),"
            " reason = CASE state WHEN 'stopping' THEN reason ELSE 'flatten' END"
            f" WHERE state = ANY($1::text[]) RETURNING {', '.join(COLUMNS)}, created_at",
            list(OPEN_STATES),
        )
        rows = sorted(rows, key=lambda r: r["created_at"])
        return [Deal(**{c: r[c] for c in COLUMNS}) for r in rows]

    async def load(self, deal_id: uuid.UUID) -> Deal | None:
        row = await self.pool.fetchrow(
            f"SELECT {', '.join(COLUMNS)} FROM spot_deals WHERE deal_id = $1", deal_id
        )
        return None if row is None else Deal(**dict(row))

    async def known(self, deal_id: uuid.UUID) -> bool:
        found = await self.pool.fetchval("SELECT 1 FROM spot_deals WHERE deal_id = $1", deal_id)
        return bool(found)

    async def closed_pnl(self) -> list[tuple[str, float, int]]:
        """(symbol, PnL, closed at ms) of the closed deals, in closing order."""
        rows = await self.pool.fetch(
            """SELECT symbol, pnl, floor(extract(epoch FROM closed_at) * 1000)::int8 AS at
               FROM spot_deals WHERE state = 'closed' AND pnl IS NOT NULL ORDER BY closed_at"""
        )
        return [(r["symbol"], r["pnl"], r["at"]) for r in rows]

    async def fresh_signals(self, max_age: float) -> list[asyncpg.Record]:
        """Accepted signals younger than ``max_age`` s without a deal: committed by the worker,
        never handed over (it stopped in between)."""
        return await self.pool.fetch(
            """SELECT s.* FROM signals s
               WHERE s.decision = 'accepted' AND s.created_at > now() - make_interval(secs => $1)
                 AND NOT EXISTS (SELECT 1 FROM spot_deals d WHERE d.deal_id = s.signal_id)
               ORDER BY s.created_at""",
            max_age,
        )

    async def signal_row(self, deal_id: uuid.UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM signals WHERE signal_id = $1", deal_id)
