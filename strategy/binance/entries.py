"""Entry and protection: a signal becomes an entry order, a stop-loss and take-profits.

1. Filters turn the signal into exact prices and quantities, or reject it with a reason.
2. Leverage and margin type are set for the symbol before its first trade.
3. Entry: MARKET, or LIMIT cancelled after ``limit_entry_timeout`` (a partial fill is kept); one
   that filled nothing is re-placed at the best bid (ask, for a SHORT) up to
   ``limit_entry_replaces`` times (client ids ``-e1`` ... ``-e9``), never at or beyond the stop.
4. At once a STOP_MARKET ``closePosition`` stop and TAKE_PROFIT_MARKET ``reduceOnly`` targets (two
   targets: half each) as algo orders. A stop that cannot be placed closes the position at once
   (seed 002's rule).
5. Target 1 filled: the stop moves to the entry price (breakeven).
6. The exit rules (strategy/exits.py, through strategy/binance/exits.py) move the stop: the old
   stop order is cancelled and a new one placed (roles ``breakeven``, ``move1``, ``move2`` ...),
   the new role and price stored first, so a restart's reconciliation restores the moved stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from strategy.binance.client import BinanceClient
from strategy.binance.config import BinanceConfig
from strategy.binance.errors import BinanceError, StatusUnknown, UnknownOrder
from strategy.binance.filters import (
    FilterRejected,
    Plan,
    SymbolFilters,
    close_side,
    open_side,
    plan,
    split_targets,
)
from strategy.binance.orders import Orders, client_id, entry_role, next_move
from strategy.binance.positions import LivePositions, exit_kind
from strategy.binance.store import LivePosition, Store
from strategy.signals import Side, Signal

log = logging.getLogger(__name__)

ENTRY_POLL = 0.25  # s between checks of a resting LIMIT entry
DONE = ("FILLED", "FINISHED", "CANCELED", "EXPIRED", "REJECTED")


class Entries:
    def __init__(
        self,
        config: BinanceConfig,
        client: BinanceClient,
        orders: Orders,
        positions: LivePositions,
        filters: dict[str, SymbolFilters],
    ) -> None:
        self.config = config
        self.client = client
        self.orders = orders
        self.store: Store = orders.store
        self.positions = positions
        self.filters = filters
        self._set_up: set[str] = set()

    async def enter(self, signal: Signal, qty: float) -> None:
        """Trade ``signal`` with ``qty`` (the caller holds the symbol's lock)."""
        if await self.store.known(signal.signal_id):
            log.info("signal %s already handled; not entering again", signal.signal_id)
            return
        try:
            order_plan = self._plan(signal, qty)
        except FilterRejected as exc:
            await self.reject(signal, qty, str(exc))
            return
        await self._set_up_symbol(signal.symbol)
        pos = LivePosition(
            signal.signal_id,
            signal.symbol,
            signal.side.value,
            "entering",
            float(order_plan.qty),
            float(order_plan.stop),
            [float(p) for p, _ in order_plan.targets],
        )
        pos.signal = signal
        await self.store.add_position(pos)
        self.positions.by_id[pos.signal_id] = pos
        await self._enter(pos, order_plan.qty, order_plan.entry)

    def rounder(self, symbol: str) -> Callable[[float], float]:
        """A price to the symbol's tick (as a stop is placed)."""
        filters = self.filters.get(symbol)
        return float if filters is None else lambda price: float(filters.price(price))

    def _plan(self, signal: Signal, qty: float) -> Plan:
        if self.positions.on(signal.symbol):
            raise FilterRejected(f"{signal.symbol} already has a live position")
        filters = self.filters.get(signal.symbol)
        if filters is None:
            raise FilterRejected(f"{signal.symbol} is not in exchangeInfo")
        result = plan(signal, qty, filters, market=self.config.entry_type == "MARKET")
        for note in result.adjustments:
            log.info("signal %s adjusted: %s", signal.signal_id, note)
        return result

    async def reject(self, signal: Signal, qty: float, reason: str) -> None:
        log.warning(
            "signal %s (%s %s) rejected: %s",
            signal.signal_id,
            signal.side.value,
            signal.symbol,
            reason,
        )
        pos = LivePosition(
            signal.signal_id,
            signal.symbol,
            signal.side.value,
            "rejected",
            qty,
            signal.stop,
            list(signal.targets),
        )
        await self.store.add_position(pos, reason=reason)

    async def _set_up_symbol(self, symbol: str) -> None:
        if symbol in self._set_up:
            return
        config = self.config
        await self.client.request(
            "POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": config.leverage}
        )
        try:
            await self.client.request(
                "POST", "/fapi/v1/marginType", {"symbol": symbol, "marginType": config.margin_type}
            )
        except BinanceError as exc:
            if exc.code != -4046:  # "No need to change margin type."
                raise
        self._set_up.add(symbol)

    async def _enter(self, pos: LivePosition, qty: Decimal, price: Decimal) -> None:
        limit = self.config.entry_type == "LIMIT"
        last = self.config.limit_entry_replaces if limit else 0
        for attempt in range(last + 1):
            answer = await self._send_entry(pos, entry_role(attempt), qty, price)
            if answer is None:
                return
            unfilled = answer["status"] == "CANCELED" and not float(answer.get("executedQty") or 0)
            new = await self._replacement_price(pos) if unfilled and attempt < last else None
            if new is None:
                break
            log.info("entry of %s %s not filled: re-placed at %s (was %s)", pos.symbol,
                     pos.signal_id, new, price)  # fmt: skip
            price = new
        await self._opened(pos, answer)

    async def _replacement_price(self, pos: LivePosition) -> Decimal | None:
        """The best bid (LONG) or ask (SHORT) now, if the stop is still on its far side."""
        side = Side(pos.side)
        book = await self.client.request(
            "GET", "/fapi/v1/depth", {"symbol": pos.symbol, "limit": 5}, security="NONE"
        )
        levels = book.get("bids" if side is Side.LONG else "asks") or []
        if not levels:
            return None
        price = self.filters[pos.symbol].price(float(levels[0][0]))
        return price if (float(price) - pos.stop_price) * side.sign > 0 else None

    async def _send_entry(
        self, pos: LivePosition, role: str, qty: Decimal, price: Decimal
    ) -> dict[str, Any] | None:
        """Place one entry order and wait for its end; None when there is nothing to open."""
        side = Side(pos.side)
        cid = client_id(pos.signal_id, role)
        limit = self.config.entry_type == "LIMIT"
        row = order_row(pos, role, open_side(side), self.config.entry_type, False, qty,
                        price=price if limit else None)  # fmt: skip
        params: dict[str, Any] = {"symbol": pos.symbol, "side": open_side(side), "quantity": qty}
        if limit:
            params |= {"type": "LIMIT", "price": price, "timeInForce": "GTC"}
        else:
            params |= {"type": "MARKET", "newOrderRespType": "RESULT"}
        try:
            await self.orders.place(row, params)
            return await self._await_entry(pos.symbol, cid)
        except StatusUnknown as exc:
            log.error(
                "entry %s: status still unknown (%s); reconciliation will settle it", cid, exc
            )
        except BinanceError as exc:
            await self.positions.finish(pos, "rejected", f"entry rejected: {exc}")
        return None

    async def _await_entry(self, symbol: str, cid: str) -> dict[str, Any]:
        """The entry's final state; a LIMIT still resting at the timeout is cancelled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.limit_entry_timeout
        while True:
            answer = await self.orders.query(symbol, cid, algo=False)
            if answer["status"] in DONE or loop.time() >= deadline:
                break
            await asyncio.sleep(ENTRY_POLL)
        if answer["status"] not in DONE:
            log.info(
                "entry %s not filled within %.0fs: cancelling", cid, self.config.limit_entry_timeout
            )
            await self.orders.cancel(symbol, cid, algo=False, reason="limit entry timeout")
            answer = await self.orders.query(symbol, cid, algo=False)
        await self.orders.record(cid, answer, algo=False)
        return answer

    async def settle(self, pos: LivePosition) -> None:
        """An entry whose outcome we never saw (restart or lost answer): its newest order."""
        cid = client_id(pos.signal_id, await self.store.entry_role(pos.signal_id))
        try:
            answer = await self._await_entry(pos.symbol, cid)
        except UnknownOrder:
            await self.positions.finish(pos, "rejected", "entry never reached the exchange")
            return
        await self._opened(pos, answer)

    async def _opened(self, pos: LivePosition, answer: dict[str, Any]) -> None:
        filled = Decimal(answer.get("executedQty") or "0")
        if filled <= 0:
            await self.positions.finish(pos, "closed", f"entry {answer['status']} without a fill")
            return
        pos.state, pos.filled_qty = "open", float(filled)
        pos.entry_price = float(answer.get("avgPrice") or 0) or None
        # the exchange's clock, as the recorded trades the exit rules read (max_hold)
        filled_at = answer.get("updateTime")
        opened = datetime.fromtimestamp(filled_at / 1000, UTC) if filled_at else datetime.now(UTC)
        pos.entry_time_ms = round(opened.timestamp() * 1000)
        await self.store.update_position(
            pos.signal_id,
            state="open",
            filled_qty=pos.filled_qty,
            entry_price=pos.entry_price,
            opened_at=opened,
        )
        log.info("entered %s %s %s @ %s", pos.side, filled, pos.symbol, pos.entry_price)
        if await self.place_stop(pos, "stop", pos.stop_price):
            await self._place_targets(pos, filled)

    # ---- protection ----------------------------------------------------------------------------

    async def place_stop(
        self, pos: LivePosition, role: str, price: float, kind: str = "stop_failed"
    ) -> bool:
        """The closePosition stop; if it cannot be placed the position is closed at once (a
        moved stop the price already passed: an exit of ``kind``)."""
        side = close_side(Side(pos.side))
        trigger = self.filters[pos.symbol].price(price)
        row = order_row(pos, role, side, "STOP_MARKET", True, None, trigger=trigger)
        params = {
            "algoType": "CONDITIONAL",
            "symbol": pos.symbol,
            "side": side,
            "type": "STOP_MARKET",
            "triggerPrice": trigger,
            "closePosition": True,
        }
        try:
            await self.orders.place(row, params)
            return True
        except BinanceError as exc:
            log.error(
                "STOP FOR %s %s COULD NOT BE PLACED (%s): closing the position now",
                pos.symbol,
                pos.signal_id,
                exc,
            )
            await self.close_now(pos, f"stop could not be placed: {exc.msg}", kind)
            return False

    async def _place_targets(self, pos: LivePosition, amount: Decimal) -> None:
        filters = self.filters[pos.symbol]
        prices = [filters.price(t) for t in pos.targets]
        side = close_side(Side(pos.side))
        for n, (price, qty) in enumerate(split_targets(prices, amount, filters), start=1):
            row = order_row(pos, f"tp{n}", side, "TAKE_PROFIT_MARKET", True, qty, trigger=price)
            params = {
                "algoType": "CONDITIONAL",
                "symbol": pos.symbol,
                "side": side,
                "type": "TAKE_PROFIT_MARKET",
                "triggerPrice": price,
                "quantity": qty,
                "reduceOnly": True,
            }
            try:
                await self.orders.place(row, params)
            except BinanceError as exc:  # the stop still protects the position
                log.error("take-profit %d for %s could not be placed: %s", n, pos.symbol, exc)

    async def breakeven(self, pos: LivePosition) -> None:
        """Target 1 filled: the stop to the entry price (unless it is there or beyond)."""
        if pos.breakeven or pos.entry_price is None:
            return
        await self.move_stop(pos, pos.entry_price, "breakeven")

    async def move_stop(self, pos: LivePosition, price: float, kind: str) -> None:
        """Replace the open stop by one at ``price`` (tighter only): cancel, store, place."""
        sign = Side(pos.side).sign
        if pos.entry_price is None or sign * (price - pos.stop_price) <= 0:
            return
        at_entry = kind == "breakeven" and not pos.breakeven
        role = "breakeven" if at_entry else next_move(pos.stop_role)
        old = client_id(pos.signal_id, pos.stop_role)
        if not await self.orders.cancel(pos.symbol, old, True, f"stop moved ({kind})"):
            log.info("stop %s of %s no longer open: not moved", old, pos.symbol)
            return  # it triggered (the user-data stream ends the position) or is gone
        pos.stop_role, pos.stop_price = role, price
        pos.breakeven = pos.breakeven or at_entry
        await self.store.update_position(
            pos.signal_id, stop_role=role, stop_price=price, breakeven=pos.breakeven
        )
        if await self.place_stop(pos, role, price, kind):
            log.info("stop of %s %s moved to %s (%s)", pos.symbol, pos.signal_id, price, kind)

    async def close_now(
        self, pos: LivePosition, reason: str, kind: str | None = None, exit_ms: int | None = None
    ) -> None:
        """Cancel the signal's orders and close what is left of its position with a MARKET
        (an exit of ``kind`` decided at ``exit_ms``, when the exit rules ask)."""
        await self.positions.cancel_orders_of(pos, reason)
        amount = (await self.orders.position_amounts()).get(pos.symbol, 0.0)
        if amount:
            side = "SELL" if amount > 0 else "BUY"
            qty = self.filters[pos.symbol].qty(abs(amount))
            row = order_row(pos, "close", side, "MARKET", False, qty)
            await self.orders.place(
                row,
                {
                    "symbol": pos.symbol,
                    "side": side,
                    "type": "MARKET",
                    "quantity": qty,
                    "reduceOnly": True,
                },
            )
        elif kind is not None:  # flat already: an exchange order (a stop, a target) ended it first
            role = self.positions.last_exit.get(pos.signal_id)
            kind, exit_ms = (exit_kind(pos, role), None) if role else (None, None)
        await self.positions.finish(pos, "closed", reason, kind, exit_ms)


def order_row(
    pos: LivePosition,
    role: str,
    side: str,
    kind: str,
    algo: bool,
    qty: Any,
    price: Any = None,
    trigger: Any = None,
) -> dict[str, Any]:
    """The ``exchange_orders`` row of one of the signal's orders, recorded before it is sent."""
    return {
        "client_order_id": client_id(pos.signal_id, role),
        "signal_id": pos.signal_id,
        "symbol": pos.symbol,
        "role": role,
        "side": side,
        "type": kind,
        "is_algo": algo,
        "qty": _float(qty),
        "price": _float(price),
        "trigger_price": _float(trigger),
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
