"""Reconciliation: make the stored positions and the exchange agree.

Runs at start-up and after every user-data (re)connect, once the socket is open, so no event
falls between the two. An entry whose outcome was never seen is settled; a position found flat
is closed (with the order that closed it) and its leftovers cancelled; a missing stop is placed
again: the stop of the stored role and price, so a stop moved by breakeven or trailing is
restored where it was moved to, not at the signal's stop.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from strategy.binance.entries import Entries
from strategy.binance.errors import UnknownOrder
from strategy.binance.orders import Orders, client_id
from strategy.binance.positions import LivePositions, exit_kind
from strategy.binance.store import LivePosition

log = logging.getLogger(__name__)


class Repair(NamedTuple):
    """What reconciliation does to one position."""

    action: str  # settle_entry | closed | restore_stop | none
    filled_qty: float | None = None  # the exchange's amount, when it differs from ours
    stop_role: str = "stop"  # stop | breakeven | moveN: the stop that must be open
    stop_price: float = 0.0


def repair(pos: LivePosition, amount: float, open_ids: set[str]) -> Repair:
    """Compare one stored position with the exchange: its signed position ``amount``
    (positionRisk) and the client ids of our open orders and algo orders."""
    if pos.state == "entering":
        return Repair("settle_entry")
    if amount == 0:
        return Repair("closed")
    filled = abs(amount) if pos.filled_qty != abs(amount) else None
    if client_id(pos.signal_id, pos.stop_role) in open_ids:
        return Repair("none", filled)
    return Repair("restore_stop", filled, pos.stop_role, pos.stop_price)


class Reconciler:
    def __init__(self, positions: LivePositions, orders: Orders, entries: Entries) -> None:
        self.positions = positions
        self.orders = orders
        self.entries = entries

    async def reconcile(self) -> None:
        live = self.positions.by_id
        for pos in await self.orders.store.live_positions():
            live.setdefault(pos.signal_id, pos)
        for pos in list(live.values()):
            # the exchange is read under the symbol's lock: an entry in flight finishes first
            async with self.positions.locks[pos.symbol]:
                if pos.signal_id not in live:
                    continue
                amounts = await self.orders.position_amounts()
                open_ids = {cid for _, cid, _ in await self.orders.open_ours(pos.symbol)}
                await self.reconcile_one(pos, amounts.get(pos.symbol, 0.0), open_ids)
        log.info(
            "reconciled: %d live position(s): %s",
            len(live),
            ", ".join(sorted(self.positions.open_symbols())) or "none",
        )

    async def reconcile_one(self, pos: LivePosition, amount: float, open_ids: set[str]) -> None:
        """One position against the exchange's position ``amount`` and our open order ids."""
        fix = repair(pos, amount, open_ids)
        if fix.action == "settle_entry":
            await self.entries.settle(pos)
            return
        if fix.action == "closed":
            role = await self._exit_role(pos)
            await self.positions.cancel_orders_of(pos, "position closed")
            known = parse_role(role)
            await self.positions.finish(
                pos, "closed", f"closed by {role} (found flat when reconciling)",
                exit_kind(pos, role) if known else None,
            )  # fmt: skip
            return
        if fix.filled_qty is not None:
            pos.filled_qty = fix.filled_qty
            await self.orders.store.update_position(pos.signal_id, filled_qty=pos.filled_qty)
        if fix.action == "restore_stop":
            log.warning(
                "%s %s: stop missing on the exchange; placing it", pos.symbol, pos.signal_id
            )
            await self.entries.place_stop(pos, fix.stop_role, fix.stop_price)

    async def _exit_role(self, pos: LivePosition) -> str:
        """Which of the signal's algo orders closed it, asked of the exchange."""
        for role in dict.fromkeys((pos.stop_role, "stop", "breakeven", "tp2", "tp1")):
            try:
                algo = await self.orders.query(pos.symbol, client_id(pos.signal_id, role), True)
            except UnknownOrder:
                continue
            if algo.get("algoStatus") in ("TRIGGERED", "FINISHED"):
                await self.orders.record(client_id(pos.signal_id, role), algo, algo=True)
                if algo.get("triggerTime"):  # the exit's time, for the position's exit_time
                    self.positions.exit_times[pos.signal_id] = int(algo["triggerTime"])
                return role
        return self.positions.last_exit.get(pos.signal_id, "an order outside Flowline")


def parse_role(role: str) -> bool:
    """Is ``role`` one of our order roles (not "an order outside Flowline")?"""
    return role in ("stop", "breakeven", "tp1", "tp2") or role.startswith("move")
