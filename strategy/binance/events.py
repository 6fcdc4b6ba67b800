"""User-data events: order and algo-order updates, fills and their PnL, positions gone flat.

Each payload is parsed once, here, into a small record (``OrderUpdate``, ``AlgoUpdate``,
``AccountUpdate``); nothing further in reads the raw dicts. ``ORDER_TRADE_UPDATE`` and
``ALGO_UPDATE`` of our orders (client ids ``fl-...``) update their ``exchange_orders`` rows; every
fill's realized profit (``rp``) and commission are credited to its position. Target 1 filled moves
the stop to breakeven. ``ACCOUNT_UPDATE`` with a position amount of 0 ends the symbol's position
(its remaining algo orders are cancelled) and carries the wallet balance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg

from strategy.binance.entries import Entries
from strategy.binance.errors import BinanceError
from strategy.binance.orders import is_entry, parse_client_id
from strategy.binance.pnl import FeePrices
from strategy.binance.positions import LivePositions, exit_kind
from strategy.binance.store import LivePosition, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """``ORDER_TRADE_UPDATE.o`` (reference §D.6), the fields we use. Sample:
    ``{"s":"BTCUSDT","c":"fl-0a1b2c3d4e5f60718293-e","S":"BUY","o":"MARKET","x":"TRADE",
    "X":"FILLED","i":8886774,"l":"0.010","z":"0.010","L":"60000.0","ap":"60000.0",
    "N":"USDT","n":"0.24000000","rp":"0", ...}``"""

    symbol: str  # s
    client_id: str  # c: ours (fl-...), or the exchange's for an order a triggered algo became
    order_id: int  # i
    execution: str  # x: NEW, TRADE, CANCELED, EXPIRED, CALCULATED (liquidation), AMENDMENT
    status: str  # X: NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH
    last_qty: float  # l: this fill's quantity
    filled_qty: float  # z: cumulative
    avg_price: float | None  # ap (0: none yet)
    realized: float  # rp: the exchange's realized profit of this fill
    commission: float  # n
    commission_asset: str  # N

    @property
    def is_fill(self) -> bool:
        return self.execution == "TRADE"


@dataclass(frozen=True, slots=True)
class AlgoUpdate:
    """``ALGO_UPDATE.o``. Sample: ``{"caid":"fl-0a1b2c3d4e5f60718293-sl","aid":1001,
    "s":"BTCUSDT","X":"TRIGGERED","ai":"8886801","tp":"58800.0", ...}``"""

    symbol: str  # s
    client_id: str  # caid
    algo_id: int  # aid
    status: str  # X: NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, REJECTED, EXPIRED
    order_id: int | None  # ai: the matching-engine order it became once triggered
    trigger_time: int = 0  # tt: when it triggered (ms; 0: not yet)


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``ACCOUNT_UPDATE.a``: wallet balances (``B``: asset -> ``wb``) and the symbols whose
    position amount (``P[].pa``) is now 0. Sample: ``{"m":"ORDER","B":[{"a":"USDT",
    "wb":"10011.76","cw":"10011.76","bc":"0"}],"P":[{"s":"BTCUSDT","pa":"0", ...}]}``"""

    reason: str  # m
    balances: dict[str, float]
    flat: tuple[str, ...]


Event = OrderUpdate | AlgoUpdate | AccountUpdate


def parse_event(event: dict[str, Any]) -> Event | None:
    """The record of one user-data event we act on; None for the other kinds.
    A malformed one raises KeyError/TypeError/ValueError (the caller counts and skips it)."""
    kind = event.get("e")
    if kind == "ORDER_TRADE_UPDATE":
        o = event["o"]
        return OrderUpdate(
            o["s"], o["c"], int(o["i"]), o["x"], o["X"], float(o.get("l") or 0),
            float(o.get("z") or 0), float(o.get("ap") or 0) or None, float(o.get("rp") or 0),
            float(o.get("n") or 0), str(o.get("N") or ""),
        )  # fmt: skip
    if kind == "ALGO_UPDATE":
        o = event["o"]
        actual = int(o["ai"]) if o.get("ai") else None
        return AlgoUpdate(o["s"], o["caid"], int(o["aid"]), o["X"], actual, int(o.get("tt") or 0))
    if kind == "ACCOUNT_UPDATE":
        a = event["a"]
        balances = {b["a"]: float(b["wb"]) for b in a.get("B", [])}
        flat = tuple(p["s"] for p in a.get("P", []) if float(p["pa"]) == 0)
        return AccountUpdate(str(a.get("m", "")), balances, flat)
    return None


class Route(NamedTuple):
    """Which of our orders an update is about: the signal key, the order's role, and whether
    the update is the order's own (its row is updated) or that of the order it triggered."""

    key: str
    role: str
    own: bool


class OrderIds:
    """Ties updates to our orders. A triggered algo order becomes a matching-engine order whose
    client id may not be ours: its ``ALGO_UPDATE`` (``ai``) says which algo order it came from."""

    def __init__(self) -> None:
        self._triggered: dict[int, str] = {}  # matching-engine order id -> its algo order's id

    def route(self, update: OrderUpdate | AlgoUpdate) -> Route | None:
        if isinstance(update, AlgoUpdate) and update.order_id:
            self._triggered[update.order_id] = update.client_id
        own = update.client_id
        cid = own
        if parse_client_id(own) is None and isinstance(update, OrderUpdate):
            cid = self._triggered.get(update.order_id, own)
        parsed = parse_client_id(cid)
        return None if parsed is None else Route(parsed[0], parsed[1], cid == own)


def credit(pos: LivePosition, role: str, fill: OrderUpdate, fee: float) -> None:
    """Add one fill to its position: the exchange's realized profit, the commission (``fee``,
    already in the margin asset) and, for a closing fill, the quantity exited."""
    pos.realized_pnl += fill.realized
    pos.fees += fee
    if not is_entry(role):
        pos.exited_qty += fill.last_qty


def is_final(update: OrderUpdate | AlgoUpdate) -> bool:
    """The order is done and filled: FILLED for an order, FINISHED for an algo order."""
    return update.status == ("FINISHED" if isinstance(update, AlgoUpdate) else "FILLED")


class UserEvents:
    def __init__(
        self,
        positions: LivePositions,
        entries: Entries,
        store: Store,
        fee_prices: FeePrices,
        on_balance: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        self.positions = positions
        self.entries = entries
        self.store = store
        self.fee_prices = fee_prices
        self.on_balance = on_balance
        self.ids = OrderIds()
        self.malformed = 0

    async def consume(self, events: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            event = await events.get()
            try:
                await self.handle(event)
            except (BinanceError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                # the next reconciliation repairs what this event could not
                log.error("handling %s failed: %s", event.get("e"), exc)

    async def handle(self, raw: dict[str, Any]) -> None:
        try:
            event = parse_event(raw)
        except (KeyError, TypeError, ValueError) as exc:
            self.malformed += 1
            log.warning("malformed user-data event (%r, %d so far): %.200r",
                        exc, self.malformed, raw)  # fmt: skip
            return
        if isinstance(event, AccountUpdate):
            if self.on_balance is not None and event.balances:
                self.on_balance(event.balances)
            for symbol in event.flat:
                await self._flat_on_exchange(symbol)
            return
        route = None if event is None else self.ids.route(event)
        if event is None or route is None:
            return  # not one of ours
        if route.own:  # the row of the triggered order's algo order is kept by ALGO_UPDATE
            await self._record(event)
        pos = self.positions.by_key(route.key)
        if pos is not None and isinstance(event, AlgoUpdate) and event.trigger_time:
            self.positions.exit_times[pos.signal_id] = event.trigger_time
        if isinstance(event, OrderUpdate) and event.is_fill:
            closed = self.positions.settling.get(route.key)
            await self._credit(pos or (closed[0] if closed else None), route.role, event)
        if pos is not None and is_final(event) and not is_entry(route.role):
            async with self.positions.locks[pos.symbol]:
                await self._exit_filled(pos, route.role)

    async def _record(self, update: OrderUpdate | AlgoUpdate) -> None:
        cid = update.client_id
        if isinstance(update, AlgoUpdate):
            await self.store.update_order(
                cid, status=update.status, exchange_algo_id=update.algo_id
            )
            return
        await self.store.update_order(
            cid,
            status=update.status,
            exchange_order_id=update.order_id,
            filled_qty=update.filled_qty,
            avg_price=update.avg_price,
        )

    async def _credit(self, pos: LivePosition | None, role: str, fill: OrderUpdate) -> None:
        if pos is None:
            return
        fee = await self.fee_prices.value(fill.commission, fill.commission_asset, pos.symbol)
        credit(pos, role, fill, fee)
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
                kind = (
                    exit_kind(pos, exit_role) if pos.signal_id in self.positions.last_exit else None
                )
                await self.positions.finish(pos, "closed", f"closed by {exit_role}", kind)
