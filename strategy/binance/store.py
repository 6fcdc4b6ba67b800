"""The executor's rows in ``exchange_positions`` and ``exchange_orders`` (sql/006_execution.sql).

Column names in the UPDATEs come from the fixed sets below, never from input; values are always
bind parameters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from strategy.exits import ExitWatch
    from strategy.signals import Signal

POSITION_FIELDS = frozenset(
    {"state", "entry_price", "filled_qty", "breakeven", "reason", "opened_at", "closed_at"}
    | {"realized_pnl", "fees", "stop_price", "stop_role", "exit_kind", "exit_time"}
)
ORDER_FIELDS = frozenset(
    {"status", "exchange_order_id", "exchange_algo_id", "filled_qty", "avg_price", "reason"}
)
LIVE = ("entering", "open")
FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "FINISHED"})
_NOT_FINAL = " AND status NOT IN ('FILLED', 'CANCELED', 'EXPIRED', 'REJECTED', 'FINISHED')"


@dataclass
class LivePosition:
    """The executor's picture of one signal's position."""

    signal_id: uuid.UUID
    symbol: str
    side: str  # LONG | SHORT
    state: str
    qty: float
    stop_price: float  # the stop open now (moved by breakeven and trailing)
    targets: list[float]
    entry_price: float | None = None
    filled_qty: float = 0.0
    breakeven: bool = False
    realized_pnl: float = 0.0  # the exchange's realized profit of its fills
    fees: float = 0.0  # commissions in the margin asset
    exited_qty: float = 0.0  # closing fills seen on the user-data stream (not stored)
    stop_role: str = "stop"  # the role of the stop order that must be open
    entry_time_ms: int | None = None  # exchange time of the entry fill (opened_at)
    signal: Signal | None = field(default=None, repr=False)  # for its exit rules (not stored)
    watch: ExitWatch | None = field(default=None, repr=False)  # the exit rules' state

    @property
    def net_pnl(self) -> float:
        return self.realized_pnl - self.fees

    @property
    def exited(self) -> bool:
        """Every closing fill is in (a position never filled has none to wait for)."""
        return self.exited_qty >= self.filled_qty * (1 - 1e-9)

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> LivePosition:
        return cls(
            row["signal_id"],
            row["symbol"],
            row["side"],
            row["state"],
            row["qty"],
            row["stop_price"],
            list(row["targets"]),
            row["entry_price"],
            row["filled_qty"],
            row["breakeven"],
            row["realized_pnl"],
            row["fees"],
            stop_role=row["stop_role"],
            entry_time_ms=_ms(row["opened_at"]),
        )


class Store:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def known(self, signal_id: uuid.UUID) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT 1 FROM exchange_positions WHERE signal_id = $1", signal_id
            )
        )

    async def live_positions(self) -> list[LivePosition]:
        rows = await self.pool.fetch(
            "SELECT * FROM exchange_positions WHERE state = ANY($1::text[]) ORDER BY created_at",
            list(LIVE),
        )
        return [LivePosition.from_row(r) for r in rows]

    async def unhandled_signals(self) -> list[asyncpg.Record]:
        """Accepted signals with no exchange position row, oldest first, with their age (s)."""
        return await self.pool.fetch(
            """SELECT s.*, extract(epoch FROM now() - s.created_at) AS age FROM signals s
               WHERE s.decision = 'accepted' AND NOT EXISTS
                     (SELECT 1 FROM exchange_positions p WHERE p.signal_id = s.signal_id)
               ORDER BY s.created_at"""
        )

    async def risk_history(self) -> tuple[list[tuple[str, float, int]], dict[str, float]]:
        """What the risk manager knew of the exchange before a restart: the closed positions
        (symbol, net PnL, closed at ms) in closing order, and the open notional per symbol."""
        closed = await self.pool.fetch(
            """SELECT symbol, realized_pnl - fees AS pnl,
                      floor(extract(epoch FROM closed_at) * 1000)::int8 AS at
               FROM exchange_positions WHERE state = 'closed' ORDER BY closed_at"""
        )
        live = await self.pool.fetch(
            """SELECT symbol, coalesce(filled_qty * entry_price, qty * stop_price) AS notional
               FROM exchange_positions WHERE state = ANY($1::text[])""",
            list(LIVE),
        )
        return [(r["symbol"], r["pnl"], r["at"]) for r in closed], {
            r["symbol"]: r["notional"] for r in live
        }

    async def signal_row(self, signal_id: uuid.UUID) -> asyncpg.Record | None:
        """The ``signals`` row of a position (its exit rules need the signal after a restart)."""
        return await self.pool.fetchrow("SELECT * FROM signals WHERE signal_id = $1", signal_id)

    async def add_position(self, p: LivePosition, reason: str | None = None) -> None:
        await self.pool.execute(
            """INSERT INTO exchange_positions
               (signal_id, symbol, side, state, qty, stop_price, targets, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            p.signal_id,
            p.symbol,
            p.side,
            p.state,
            p.qty,
            p.stop_price,
            p.targets,
            reason,
        )

    async def update_position(self, signal_id: uuid.UUID, **fields: Any) -> None:
        await self._update("exchange_positions", "signal_id", signal_id, POSITION_FIELDS, fields)

    async def add_order(self, row: dict[str, Any]) -> None:
        """Record an order before it is sent (status SENDING); a repeat keeps the first row."""
        await self.pool.execute(
            """INSERT INTO exchange_orders
               (client_order_id, signal_id, symbol, role, side, type, is_algo, qty, price,
                trigger_price, status)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'SENDING')
               ON CONFLICT (client_order_id) DO NOTHING""",
            row["client_order_id"],
            row["signal_id"],
            row["symbol"],
            row["role"],
            row["side"],
            row["type"],
            row["is_algo"],
            row.get("qty"),
            row.get("price"),
            row.get("trigger_price"),
        )

    async def entry_role(self, signal_id: uuid.UUID) -> str:
        """The role of the signal's newest entry order ("entry", or a re-placement's)."""
        role = await self.pool.fetchval(
            """SELECT role FROM exchange_orders WHERE signal_id = $1 AND role LIKE 'entry%'
               ORDER BY length(role) DESC, role DESC LIMIT 1""",
            signal_id,
        )
        return role or "entry"

    async def update_order(self, client_order_id: str, **fields: Any) -> None:
        """Events can arrive after we recorded the order's end (the stream queues while we act):
        a late update never moves a finished order back to an open status (one atomic UPDATE)."""
        if "status" not in fields or fields["status"] in FINAL:
            await self._update(
                "exchange_orders", "client_order_id", client_order_id, ORDER_FIELDS, fields
            )
            return
        await self._update(
            "exchange_orders",
            "client_order_id",
            client_order_id,
            ORDER_FIELDS,
            fields,
            guard=_NOT_FINAL,
        )

    async def stream_age(self, symbol: str) -> float | None:
        """Seconds since the recorder last received ``symbol``'s slower continuous stream: its
        mark price (Binance pushes one a second per symbol, traded or not) or its depth diffs.
        Trades are not asked: a quiet symbol has none for minutes while its streams are alive.
        None when either stream has no row at all."""
        return await self.pool.fetchval(
            """SELECT extract(epoch FROM now() - least(m.received_at, d.received_at))::float8
               FROM (SELECT received_at FROM mark_prices WHERE symbol = $1
                     ORDER BY time DESC LIMIT 1) AS m,
                    (SELECT received_at FROM depth_updates WHERE symbol = $1 AND market = 'usdm'
                     ORDER BY time DESC LIMIT 1) AS d""",
            symbol,
        )

    async def _update(
        self,
        table: str,
        key: str,
        value: Any,
        allowed: frozenset[str],
        fields: dict[str, Any],
        guard: str = "",
    ) -> None:
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        names = sorted(fields)
        sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
        await self.pool.execute(
            f"UPDATE {table} SET {sets}, updated_at = now() WHERE {key} = $1{guard}",
            value,
            *(fields[n] for n in names),
        )


def _ms(value: Any) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)
