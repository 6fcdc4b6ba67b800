"""The executor's live positions: one lock per symbol, and how a position ends.

Every part of the executor (entries, user-data events, reconciliation, the watchdog) works on the
same positions under the symbol's lock, so events and signals never interleave. A position that
ends waits in ``settling`` until its closing fills (and their PnL) are in, for ``take_closed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from strategy.binance.orders import Orders, is_move, parse_client_id, signal_key
from strategy.binance.store import LivePosition, Store
from strategy.signals import Side

log = logging.getLogger(__name__)

CLOSING_FILLS_WAIT = 5.0  # s a closed position waits for its closing fills' PnL


class LivePositions:
    def __init__(self, store: Store, orders: Orders) -> None:
        self.store = store
        self.orders = orders
        self.by_id: dict[uuid.UUID, LivePosition] = {}
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.last_exit: dict[uuid.UUID, str] = {}  # signal id -> role of its latest exit fill
        self.exit_times: dict[uuid.UUID, int] = {}  # signal id -> its exit's trigger time (ms)
        self.settling: dict[str, tuple[LivePosition, float]] = {}  # closed: key -> (pos, until)

    def on(self, symbol: str) -> list[LivePosition]:
        return [p for p in self.by_id.values() if p.symbol == symbol]

    def by_key(self, key: str) -> LivePosition | None:
        return next((p for p in self.by_id.values() if signal_key(p.signal_id) == key), None)

    def open_symbols(self) -> set[str]:
        return {p.symbol for p in self.by_id.values()}

    def busy_symbols(self) -> set[str]:
        """Open, or closed with the PnL of its closing fills still to come."""
        return self.open_symbols() | {p.symbol for p, _ in self.settling.values()}

    def take_closed(self) -> list[tuple[str, float]]:
        """(symbol, net PnL) of the positions closed since the last call whose closing fills
        are in (or that waited ``CLOSING_FILLS_WAIT`` for them), for the risk manager."""
        now = time.monotonic()
        done = [k for k, (p, until) in self.settling.items() if p.exited or now >= until]
        return [(p.symbol, p.net_pnl) for p, _ in map(self.settling.pop, done)]

    async def finish(
        self,
        pos: LivePosition,
        state: str,
        reason: str,
        kind: str | None = None,
        exit_ms: int | None = None,
    ) -> None:
        """The position is over: out of the live set, waiting for its closing fills, stored.
        Memory first: with the database down the exchange is still watched correctly, and
        reconciliation stores the end once the database is back. ``kind``: the exit as the
        paper executor names it; ``exit_ms``: its exchange time."""
        self.by_id.pop(pos.signal_id, None)
        self.last_exit.pop(pos.signal_id, None)
        exit_ms = exit_ms or self.exit_times.pop(pos.signal_id, None)
        pos.state = state
        self.settling[signal_key(pos.signal_id)] = (pos, time.monotonic() + CLOSING_FILLS_WAIT)
        log.info(
            "position %s %s %s: %s (net PnL %.4f)",
            pos.symbol, pos.signal_id, state, reason, pos.net_pnl,
        )  # fmt: skip
        ended = {"state": state, "reason": reason, "closed_at": datetime.now(UTC)}
        if kind is not None:
            ended["exit_kind"] = kind
        if exit_ms is not None:
            ended["exit_time"] = datetime.fromtimestamp(exit_ms / 1000, UTC)
        await self.store.update_position(pos.signal_id, **ended)

    async def cancel_orders_of(self, pos: LivePosition, reason: str) -> None:
        """Cancel the signal's open orders and algo orders on the exchange."""
        key = signal_key(pos.signal_id)
        for symbol, cid, algo in await self.orders.open_ours(pos.symbol):
            parsed = parse_client_id(cid)
            if parsed is not None and parsed[0] == key:
                await self.orders.cancel(symbol, cid, algo, reason)


def exit_kind(pos: LivePosition, role: str) -> str:
    """The paper executor's name for an exit by the order of role ``role``."""
    if role in ("tp1", "tp2"):
        return "target"
    if role in ("stop", "breakeven"):
        return role
    if is_move(role):  # a trailing stop beyond the entry; else still a loss-side stop
        entry, sign = pos.entry_price, Side(pos.side).sign
        return "trailing" if entry is not None and sign * (pos.stop_price - entry) > 0 else "stop"
    return role
