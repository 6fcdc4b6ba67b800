"""User-data events: order and algo-order updates, fills and their PnL, positions gone flat.

``ORDER_TRADE_UPDATE`` and ``ALGO_UPDATE`` of our orders (client ids ``fl-...``) update their
``exchange_orders`` rows; every fill's realized PnL (``rp``) and commission are credited to its
position (pnl.py). Target 1 filled moves the stop to breakeven. ``ACCOUNT_UPDATE`` with a position
amount of 0 ends the symbol's position: its remaining algo orders are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from strategy.binance.entries import Entries
from strategy.binance.errors import BinanceError
from strategy.binance.orders import parse_client_id
from strategy.binance.pnl import FeePrices, fill_pnl
from strategy.binance.positions import LivePositions
from strategy.binance.store import LivePosition, Store

log = logging.getLogger(__name__)


class UserEvents:
    def __init__(
        self, positions: LivePositions, entries: Entries, store: Store, fee_prices: FeePrices
    ) -> None:
        self.positions = positions
        self.entries = entries
        self.store = store
        self.fee_prices = fee_prices
        self._triggered: dict[int, str] = {}  # matching-engine order id -> its algo order's id

    async def consume(self, events: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            event = await events.get()
            try:
                await self.handle(event)
            except (BinanceError, asyncpg.PostgresError, OSError) as exc:
                # the next reconciliation repairs what this event could not
                log.error("handling %s failed: %s", event.get("e"), exc)

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("e")
        if kind == "ACCOUNT_UPDATE":
            for item in event["a"].get("P", []):
                if float(item["pa"]) == 0:
                    await self._flat_on_exchange(item["s"])
            return
        if kind not in ("ORDER_TRADE_UPDATE", "ALGO_UPDATE"):
            return
        o = event["o"]
        own = o["caid"] if kind == "ALGO_UPDATE" else o["c"]
        if kind == "ALGO_UPDATE" and o.get("ai"):  # the order a triggered algo order became
            self._triggered[int(o["ai"])] = own
        # a triggered order's own id may not be ours: its algo order's is
        cid = own if parse_client_id(own) else self._triggered.get(o.get("i", 0), own)
        parsed = parse_client_id(cid)
        if parsed is None:
            return  # not one of ours
        if cid == own:  # the row of the triggered order's algo order is kept by ALGO_UPDATE
            await self._record(cid, kind, o)
        pos = self.positions.by_key(parsed[0])
        if kind == "ORDER_TRADE_UPDATE":
            closed = self.positions.settling.get(parsed[0])
            await self._credit(pos or (closed[0] if closed else None), parsed[1], o)
        if pos is None:
            return
        filled = o["X"] == ("FINISHED" if kind == "ALGO_UPDATE" else "FILLED")
        if filled and parsed[1] != "entry":
            async with self.positions.locks[pos.symbol]:
                await self._exit_filled(pos, parsed[1])

    async def _record(self, cid: str, kind: str, o: dict[str, Any]) -> None:
        if kind == "ALGO_UPDATE":
            await self.store.update_order(cid, status=o["X"], exchange_algo_id=o["aid"])
            return
        await self.store.update_order(
            cid,
            status=o["X"],
            exchange_order_id=o["i"],
            filled_qty=float(o["z"]),
            avg_price=float(o["ap"]) or None,
        )

    async def _credit(self, pos: LivePosition | None, role: str, o: dict[str, Any]) -> None:
        pnl = None if pos is None else fill_pnl(o)
        if pos is None or pnl is None:
            return
        realized, fee, asset = pnl
        pos.realized_pnl += realized
        pos.fees += await self.fee_prices.value(fee, asset, pos.symbol)
        if role != "entry":
            pos.exited_qty += float(o.get("l") or 0)
        await self.store.update_position(
            pos.signal_id, realized_pnl=pos.realized_pnl, fees=pos.fees
        )

    async def _exit_filled(self, pos: LivePosition, role: str) -> None:
        self.positions.last_exit[pos.signal_id] = role
        if role == "tp1" and len(pos.targets) > 1 and pos.signal_id in self.positions.by_id:
            await self.entries.breakeven(pos)

    async def _flat_on_exchange(self, symbol: str) -> None:
        async with self.positions.locks[symbol]:
            for pos in self.positions.on(symbol):
                if pos.state != "open":
                    continue
                exit_role = self.positions.last_exit.get(pos.signal_id, "an exchange order")
                await self.positions.cancel_orders_of(pos, "position closed")
                await self.positions.finish(pos, "closed", f"closed by {exit_role}")
