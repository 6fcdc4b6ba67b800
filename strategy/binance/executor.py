"""The Binance executor: a signal becomes an entry, a stop-loss and take-profits on the exchange.

Life of a signal (one-way mode, one live position per symbol):
1. Filters turn it into exact prices and quantities, or reject it with a reason (filters.py).
2. Leverage and margin type are set for the symbol before its first trade.
3. Entry: MARKET, or LIMIT cancelled after ``limit_entry_timeout`` (a partial fill is kept).
4. At once a STOP_MARKET ``closePosition`` stop and TAKE_PROFIT_MARKET ``reduceOnly`` targets (two
   targets: half each) as algo orders. A stop that cannot be placed closes the position at once
   (seed 002's rule).
5. Target 1 filled: the stop moves to the entry price (breakeven).
6. The position is flat (ACCOUNT_UPDATE): the remaining algo orders are cancelled. Its realized
   PnL (the fills' ``rp`` less commissions, pnl.py) is stored and handed to the risk manager by
   ``take_closed`` once the closing fills are in (they may come after the ACCOUNT_UPDATE).

State lives in ``exchange_positions``/``exchange_orders`` and is reconciled with positionRisk, open
orders and open algo orders at start-up and after every user-data reconnect. A symbol whose
recorded trades (``agg_trades``, filled by the recorder) go stale for ``stale_flatten_after`` s is
flattened. Per symbol, everything runs under one lock, so events and signals never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from strategy.binance.client import BinanceClient
from strategy.binance.config import BinanceConfig
from strategy.binance.errors import BinanceError, StatusUnknown, UnknownOrder
from strategy.binance.filters import (
    FilterRejected,
    SymbolFilters,
    close_side,
    open_side,
    parse_exchange_info,
    plan,
    split_targets,
)
from strategy.binance.orders import Orders, client_id, parse_client_id, signal_key
from strategy.binance.pnl import FeePrices, fill_pnl
from strategy.binance.store import LivePosition, Store
from strategy.binance.userdata import UserDataStream
from strategy.risk import RiskManager
from strategy.signals import Side, Signal
from strategy.store import signal_from_row

log = logging.getLogger(__name__)

ENTRY_POLL = 0.25  # s between checks of a resting LIMIT entry
CLOSING_FILLS_WAIT = 5.0  # s a closed position waits for its closing fills' PnL
DONE = ("FILLED", "FINISHED", "CANCELED", "EXPIRED", "REJECTED")


class BinanceExecutor:
    def __init__(
        self, config: BinanceConfig, store: Store, client: BinanceClient, filters: dict[str, Any]
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.orders = Orders(client, store)
        self.fee_prices = FeePrices(client)
        self.filters: dict[str, SymbolFilters] = filters
        self.positions: dict[uuid.UUID, LivePosition] = {}
        self.stream = UserDataStream(
            client, config.ws_url, self._reconcile, config.keepalive_interval
        )
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._set_up: set[str] = set()
        self._last_exit: dict[uuid.UUID, str] = {}
        self._triggered: dict[int, str] = {}  # matching-engine order id -> its algo order's id
        self._settling: dict[str, tuple[LivePosition, float]] = {}  # closed: key -> (pos, until)
        self._tasks: list[asyncio.Task[None]] = []

    # ---- set-up and tear-down ------------------------------------------------------------------

    @classmethod
    async def connect(cls, config: BinanceConfig, pool: asyncpg.Pool) -> BinanceExecutor:
        """Client, clock, key check, filters and stored state; no reconciliation, no tasks."""
        if config.live:
            log.warning(
                "!!! BINANCE LIVE TRADING: real orders with real money on %s !!!", config.rest_url
            )
        else:  # the environment named from the host the orders really go to
            log.info("binance executor: %s trading on %s", config.environment, config.rest_url)
        client = BinanceClient(
            config.rest_url,
            config.api_key,
            config.api_secret,
            recv_window=config.recv_window,
            timeout=config.request_timeout,
        )
        try:
            await client.start()
            await client.request("GET", "/fapi/v2/account")  # a bad key or clock fails here
            info = await client.request("GET", "/fapi/v1/exchangeInfo", security="NONE")
        except BaseException:
            await client.close()
            raise
        self = cls(config, Store(pool), client, parse_exchange_info(info))
        self.positions = {p.signal_id: p for p in await self.store.live_positions()}
        return self

    @classmethod
    async def create(cls, config: BinanceConfig, pool: asyncpg.Pool) -> BinanceExecutor:
        """Connect, reconcile with the exchange, and start the user-data stream and watchdog."""
        self = await cls.connect(config, pool)
        try:
            await self._reconcile()
        except BaseException:
            await self.client.close()
            raise
        self._spawn(self.stream.run(), "binance-user-data")
        self._spawn(self._consume(), "binance-events")
        self._spawn(self._watch_stale(), "binance-stale-data")
        return self

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.client.close()

    async def restore_risk(self, risk: RiskManager) -> None:
        """After a restart: realized PnL, the loss streak and any cooldown from the positions
        closed on the exchange, and the open ones, as the risk manager had them."""
        closed, open_notional = await self.store.risk_history()
        for symbol, pnl, closed_ms in closed:
            risk.on_closed(symbol, pnl, closed_ms)
        risk.open.update(open_notional)

    def open_symbols(self) -> set[str]:
        return {p.symbol for p in self.positions.values()}

    def busy_symbols(self) -> set[str]:
        """Open, or closed with the PnL of its closing fills still to come."""
        return self.open_symbols() | {p.symbol for p, _ in self._settling.values()}

    def take_closed(self) -> list[tuple[str, float]]:
        """(symbol, net PnL) of the positions closed since the last call whose closing fills
        are in (or that waited ``CLOSING_FILLS_WAIT`` for them), for the risk manager."""
        now = time.monotonic()
        done = [k for k, (p, until) in self._settling.items() if p.exited or now >= until]
        return [(p.symbol, p.net_pnl) for p, _ in map(self._settling.pop, done)]

    # ---- entering ------------------------------------------------------------------------------

    async def missed_entries(self) -> list[tuple[Signal, float]]:
        """Accepted signals the worker committed but never handed over (it stopped in between):
        those younger than ``entry_max_age`` to enter now, older ones recorded as missed."""
        fresh = []
        for row in await self.store.unhandled_signals():
            signal = signal_from_row(row, round(row["time"].timestamp() * 1000))
            assert signal.signal_id == row["signal_id"], "a signals row that does not match its id"
            if row["age"] <= self.config.entry_max_age:
                log.warning("entering signal %s, accepted before a restart", signal.signal_id)
                fresh.append((signal, row["qty"]))
            else:
                reason = f"missed: the worker stopped before entering it ({row['age']:.0f} s ago)"
                await self._reject(signal, row["qty"], reason)
        return fresh

    async def enter(self, signal: Signal, qty: float) -> None:
        """Trade ``signal`` with ``qty``; a signal already seen (same signal_id) does nothing."""
        async with self._locks[signal.symbol]:
            if await self.store.known(signal.signal_id):
                log.info("signal %s already handled; not entering again", signal.signal_id)
                return
            try:
                order_plan = self._plan(signal, qty)
            except FilterRejected as exc:
                await self._reject(signal, qty, str(exc))
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
            await self.store.add_position(pos)
            self.positions[pos.signal_id] = pos
            await self._enter(pos, order_plan.qty, order_plan.entry)

    def _plan(self, signal: Signal, qty: float) -> Any:
        if any(p.symbol == signal.symbol for p in self.positions.values()):
            raise FilterRejected(f"{signal.symbol} already has a live position")
        filters = self.filters.get(signal.symbol)
        if filters is None:
            raise FilterRejected(f"{signal.symbol} is not in exchangeInfo")
        result = plan(signal, qty, filters, market=self.config.entry_type == "MARKET")
        for note in result.adjustments:
            log.info("signal %s adjusted: %s", signal.signal_id, note)
        return result

    async def _reject(self, signal: Signal, qty: float, reason: str) -> None:
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
        side = Side(pos.side)
        cid = client_id(pos.signal_id, "entry")
        row = self._row(
            pos,
            "entry",
            open_side(side),
            self.config.entry_type,
            False,
            qty,
            price=price if self.config.entry_type == "LIMIT" else None,
        )
        params: dict[str, Any] = {"symbol": pos.symbol, "side": open_side(side), "quantity": qty}
        if self.config.entry_type == "LIMIT":
            params |= {"type": "LIMIT", "price": price, "timeInForce": "GTC"}
        else:
            params |= {"type": "MARKET", "newOrderRespType": "RESULT"}
        try:
            await self.orders.place(row, params)
            answer = await self._await_entry(pos.symbol, cid)
        except StatusUnknown as exc:
            log.error(
                "entry %s: status still unknown (%s); reconciliation will settle it", cid, exc
            )
            return
        except BinanceError as exc:
            await self._finish(pos, "rejected", f"entry rejected: {exc}")
            return
        await self._opened(pos, answer)

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

    async def _opened(self, pos: LivePosition, answer: dict[str, Any]) -> None:
        filled = Decimal(answer.get("executedQty") or "0")
        if filled <= 0:
            await self._finish(pos, "closed", f"entry {answer['status']} without a fill")
            return
        pos.state, pos.filled_qty = "open", float(filled)
        pos.entry_price = float(answer.get("avgPrice") or 0) or None
        await self.store.update_position(
            pos.signal_id,
            state="open",
            filled_qty=pos.filled_qty,
            entry_price=pos.entry_price,
            opened_at=_now(),
        )
        log.info("entered %s %s %s @ %s", pos.side, filled, pos.symbol, pos.entry_price)
        if await self._place_stop(pos, "stop", pos.stop_price):
            await self._place_targets(pos, filled)

    # ---- protection ----------------------------------------------------------------------------

    async def _place_stop(self, pos: LivePosition, role: str, price: float) -> bool:
        """The closePosition stop; if it cannot be placed the position is closed at once."""
        side = close_side(Side(pos.side))
        trigger = self.filters[pos.symbol].price(price)
        row = self._row(pos, role, side, "STOP_MARKET", True, None, trigger=trigger)
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
            await self._close_now(pos, f"stop could not be placed: {exc.msg}")
            return False

    async def _place_targets(self, pos: LivePosition, amount: Decimal) -> None:
        filters = self.filters[pos.symbol]
        prices = [filters.price(t) for t in pos.targets]
        side = close_side(Side(pos.side))
        for n, (price, qty) in enumerate(split_targets(prices, amount, filters), start=1):
            row = self._row(pos, f"tp{n}", side, "TAKE_PROFIT_MARKET", True, qty, trigger=price)
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

    async def _breakeven(self, pos: LivePosition) -> None:
        """Target 1 filled: replace the stop by one at the entry price."""
        if pos.breakeven or pos.entry_price is None:
            return
        await self.orders.cancel(pos.symbol, client_id(pos.signal_id, "stop"), True, "breakeven")
        pos.breakeven = True
        await self.store.update_position(pos.signal_id, breakeven=True)
        if await self._place_stop(pos, "breakeven", pos.entry_price):
            log.info(
                "stop of %s %s moved to breakeven %s", pos.symbol, pos.signal_id, pos.entry_price
            )

    def _row(
        self,
        pos: LivePosition,
        role: str,
        side: str,
        kind: str,
        algo: bool,
        qty: Any,
        price: Any = None,
        trigger: Any = None,
    ) -> dict[str, Any]:
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

    # ---- closing -------------------------------------------------------------------------------

    async def _close_now(self, pos: LivePosition, reason: str) -> None:
        """Cancel the signal's orders and close what is left of its position with a MARKET."""
        await self._cancel_signal_orders(pos, reason)
        amount = (await self.orders.position_amounts()).get(pos.symbol, 0.0)
        if amount:
            side = "SELL" if amount > 0 else "BUY"
            qty = self.filters[pos.symbol].qty(abs(amount))
            row = self._row(pos, "close", side, "MARKET", False, qty)
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
        await self._finish(pos, "closed", reason)

    async def _cancel_signal_orders(self, pos: LivePosition, reason: str) -> None:
        key = signal_key(pos.signal_id)
        for symbol, cid, algo in await self.orders.open_ours(pos.symbol):
            parsed = parse_client_id(cid)
            if parsed is not None and parsed[0] == key:
                await self.orders.cancel(symbol, cid, algo, reason)

    async def _finish(self, pos: LivePosition, state: str, reason: str) -> None:
        self.positions.pop(pos.signal_id, None)
        self._last_exit.pop(pos.signal_id, None)
        pos.state = state
        await self.store.update_position(
            pos.signal_id, state=state, reason=reason, closed_at=_now()
        )
        until = time.monotonic() + CLOSING_FILLS_WAIT
        self._settling[signal_key(pos.signal_id)] = (pos, until)
        log.info(
            "position %s %s %s: %s (net PnL %.4f)",
            pos.symbol, pos.signal_id, state, reason, pos.net_pnl,
        )  # fmt: skip

    async def flatten(self, reason: str) -> None:
        """Cancel every Flowline order and close every Flowline position."""
        log.warning("FLATTEN (%s): cancelling Flowline's orders and closing its positions", reason)
        symbols = self.open_symbols() | {s for s, _, _ in await self.orders.open_ours()}
        for symbol in sorted(symbols):
            await self.flatten_symbol(symbol, reason)

    async def flatten_symbol(self, symbol: str, reason: str) -> None:
        async with self._locks[symbol]:
            live = [p for p in self.positions.values() if p.symbol == symbol]
            for pos in live:
                await self._close_now(pos, f"flatten: {reason}")
            for sym, cid, algo in await self.orders.open_ours(symbol):  # orphans of old signals
                await self.orders.cancel(sym, cid, algo, f"flatten: {reason}")

    # ---- user-data events ----------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            event = await self.stream.events.get()
            try:
                await self._on_event(event)
            except (BinanceError, asyncpg.PostgresError, OSError) as exc:
                # the next reconciliation repairs what this event could not
                log.error("handling %s failed: %s", event.get("e"), exc)

    async def _on_event(self, event: dict[str, Any]) -> None:
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
            await self._record_event(cid, kind, o)
        pos = self._by_key(parsed[0])
        if kind == "ORDER_TRADE_UPDATE":
            closed = self._settling.get(parsed[0])
            await self._credit(pos or (closed[0] if closed else None), parsed[1], o)
        if pos is None:
            return
        filled = o["X"] == ("FINISHED" if kind == "ALGO_UPDATE" else "FILLED")
        if filled and parsed[1] != "entry":
            async with self._locks[pos.symbol]:
                await self._exit_filled(pos, parsed[1])

    async def _record_event(self, cid: str, kind: str, o: dict[str, Any]) -> None:
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
        self._last_exit[pos.signal_id] = role
        if role == "tp1" and len(pos.targets) > 1 and pos.signal_id in self.positions:
            await self._breakeven(pos)

    async def _flat_on_exchange(self, symbol: str) -> None:
        async with self._locks[symbol]:
            for pos in [p for p in self.positions.values() if p.symbol == symbol]:
                if pos.state != "open":
                    continue
                exit_role = self._last_exit.get(pos.signal_id, "an exchange order")
                await self._cancel_signal_orders(pos, "position closed")
                await self._finish(pos, "closed", f"closed by {exit_role}")

    def _by_key(self, key: str) -> LivePosition | None:
        return next((p for p in self.positions.values() if signal_key(p.signal_id) == key), None)

    # ---- reconciliation ------------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Make stored state and the exchange agree (start-up, every user-data reconnect)."""
        for pos in await self.store.live_positions():
            self.positions.setdefault(pos.signal_id, pos)
        for pos in list(self.positions.values()):
            # the exchange is read under the symbol's lock: an entry in flight finishes first
            async with self._locks[pos.symbol]:
                if pos.signal_id not in self.positions:
                    continue
                amounts = await self.orders.position_amounts()
                open_ids = {cid for _, cid, _ in await self.orders.open_ours(pos.symbol)}
                await self._reconcile_one(pos, amounts.get(pos.symbol, 0.0), open_ids)
        log.info(
            "reconciled: %d live position(s): %s",
            len(self.positions),
            ", ".join(sorted(self.open_symbols())) or "none",
        )

    async def _reconcile_one(self, pos: LivePosition, amount: float, open_ids: set[str]) -> None:
        if pos.state == "entering":
            await self._settle_entry(pos)
            return
        if amount == 0:
            role = await self._exit_role(pos)
            await self._cancel_signal_orders(pos, "position closed")
            await self._finish(pos, "closed", f"closed by {role} (found flat when reconciling)")
            return
        if pos.filled_qty != abs(amount):
            pos.filled_qty = abs(amount)
            await self.store.update_position(pos.signal_id, filled_qty=pos.filled_qty)
        role = "breakeven" if pos.breakeven else "stop"
        if client_id(pos.signal_id, role) not in open_ids:
            log.warning(
                "%s %s: stop missing on the exchange; placing it", pos.symbol, pos.signal_id
            )
            price = pos.entry_price if pos.breakeven and pos.entry_price else pos.stop_price
            await self._place_stop(pos, role, price)

    async def _exit_role(self, pos: LivePosition) -> str:
        """Which of the signal's algo orders closed it, asked of the exchange."""
        for role in ("stop", "breakeven", "tp2", "tp1"):
            try:
                algo = await self.orders.query(pos.symbol, client_id(pos.signal_id, role), True)
            except UnknownOrder:
                continue
            if algo.get("algoStatus") in ("TRIGGERED", "FINISHED"):
                await self.orders.record(client_id(pos.signal_id, role), algo, algo=True)
                return role
        return self._last_exit.get(pos.signal_id, "an order outside Flowline")

    async def _settle_entry(self, pos: LivePosition) -> None:
        """An entry whose outcome we never saw (restart or lost answer)."""
        cid = client_id(pos.signal_id, "entry")
        try:
            answer = await self._await_entry(pos.symbol, cid)
        except UnknownOrder:
            await self._finish(pos, "rejected", "entry never reached the exchange")
            return
        await self._opened(pos, answer)

    # ---- stale market data ---------------------------------------------------------------------

    async def _watch_stale(self) -> None:
        limit = self.config.stale_flatten_after
        while True:
            await asyncio.sleep(self.config.stale_check_interval)
            for symbol in sorted(self.open_symbols()):
                age = await self.store.newest_trade_age(symbol)
                if age is not None and age <= limit:
                    continue
                shown = "no trades recorded" if age is None else f"newest trade {age:.1f}s old"
                log.error(
                    "STALE MARKET DATA for %s (%s, limit %.0fs): FLATTENING %s",
                    symbol,
                    shown,
                    limit,
                    symbol,
                )
                await self.flatten_symbol(symbol, f"stale market data: {shown}")


def _now() -> datetime:
    return datetime.now(UTC)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("binance executor task %s crashed", task.get_name(), exc_info=task.exception())
