"""The matching side of the simulated exchange: accounts' orders against the simulated book.

- MARKET orders walk the book (the same sweep the random flow uses, so the trades and depth diffs
  they cause are published on the market streams like anyone else's).
- LIMIT orders take what crosses, then rest off-book and fill in full, as maker, once the market
  trades *through* their price (a conservative queue model: trading at the price is not enough).
- Algo orders (STOP_MARKET, TAKE_PROFIT_MARKET) trigger on the last trade (CONTRACT_PRICE) or the
  mark price (MARK_PRICE) and become reduce-only MARKET orders; ``closePosition`` takes the whole
  position at trigger time.

Every change is pushed to the account's user-data stream (ORDER_TRADE_UPDATE, ALGO_UPDATE,
ACCOUNT_UPDATE) through ``publish``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from sim import order_payloads as payloads
from sim.accounts import (
    BNB_FEE_DISCOUNT,
    MAKER_FEE,
    TAKER_FEE,
    Account,
    AlgoOrder,
    Order,
    initial_margin,
    unrealized,
)
from sim.feed import Feed
from sim.instruments import Instrument
from sim.rest import ApiError

log = logging.getLogger(__name__)

MIN_NOTIONAL = 100.0  # exchangeInfo MIN_NOTIONAL of every simulated symbol
Publish = Callable[[Account, dict[str, Any]], None]


class Engine:
    def __init__(self, feed: Feed, accounts: dict[str, Account], publish: Publish) -> None:
        self.feed = feed
        self.accounts = accounts
        self.publish = publish
        self._order_ids = itertools.count(8_300_000_000)
        self._algo_ids = itertools.count(3_000_000_000)
        self._trade_ids = itertools.count(5_700_000_000)
        self._seen = {s: sf.market.agg_id for s, sf in feed.feeds.items()}
        feed.after_step.append(self.on_market)

    # ---- market views --------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.feed.now

    def instrument(self, symbol: str) -> Instrument:
        return self.feed.feeds[symbol].instrument

    def mark(self, symbol: str) -> float:
        inst = self.instrument(symbol)
        return round(self.feed.feeds[symbol].market.mark, inst.price_precision)

    def last_tick(self, symbol: str) -> int:
        return self.feed.feeds[symbol].market.last_tick

    def upnl(self, account: Account, symbol: str) -> float:
        qty = self.instrument(symbol).qty_float(1)
        return unrealized(account.position(symbol), self.mark(symbol), qty)

    def available(self, account: Account) -> float:
        """Wallet + unrealized PnL - margin held by positions and open orders."""
        free = account.wallet
        for symbol, p in account.positions.items():
            qty = self.instrument(symbol).qty_float(1)
            mark = self.mark(symbol)
            free += unrealized(p, mark, qty)
            free -= initial_margin(p, mark, qty, account.leverage_of(symbol))
        for o in account.open_orders():
            inst = self.instrument(o.symbol)
            notional = (o.lots - o.filled) * inst.qty_float(1) * inst.price_float(o.tick)
            free -= notional / account.leverage_of(o.symbol)
        return free

    # ---- orders --------------------------------------------------------------------------------

    def place(self, account: Account, order: Order) -> Order:
        """Validate against the account, then match a new LIMIT or MARKET order."""
        self._check_economics(account, order)
        order.order_id = next(self._order_ids)
        order.time = order.update_time = self.now
        account.orders[order.order_id] = order
        self._emit_order(account, order, "NEW")
        self._match(account, order)
        self.on_market()
        return order

    def _check_economics(self, account: Account, order: Order) -> None:
        inst = self.instrument(order.symbol)
        position = account.position(order.symbol).lots
        reduces = position != 0 and (position > 0) != order.buys
        if order.reduce_only:
            if not reduces:
                raise ApiError(-2022, "ReduceOnly Order is rejected.")
            order.lots = min(order.lots, abs(position))
            return
        tick = order.tick or self.last_tick(order.symbol)
        price = inst.price_float(tick)
        notional = order.lots * inst.qty_float(1) * price
        if notional < MIN_NOTIONAL:
            raise ApiError(
                -4164,
                f"Order's notional must be no smaller than {MIN_NOTIONAL:g} "
                "(unless you choose reduce only).",
            )
        added = order.lots - (abs(position) if reduces else 0)
        needed = max(0, added) * inst.qty_float(1) * price / account.leverage_of(order.symbol)
        if needed > self.available(account):
            raise ApiError(-2019, "Margin is insufficient.")

    def _match(self, account: Account, order: Order) -> None:
        limit = order.tick if order.type == "LIMIT" else None
        fills = self.feed.execute(order.symbol, order.buys, order.lots - order.filled, limit)
        for tick, lots, _ in fills:
            self._fill(account, order, lots, tick, maker=False)
        if order.filled == order.lots:
            return
        if order.type == "MARKET" or order.tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
            self._emit_order(account, order, "EXPIRED")

    def cancel(self, account: Account, order: Order) -> Order:
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_time = self.now
        self._emit_order(account, order, "CANCELED")
        return order

    def _fill(self, account: Account, order: Order, lots: int, tick: int, maker: bool) -> None:
        inst = self.instrument(order.symbol)
        price = inst.price_float(tick)
        qty = lots * inst.qty_float(1)
        fee = self._commission(account, qty * price * (MAKER_FEE if maker else TAKER_FEE))
        position = account.position(order.symbol)
        realized = position.fill(lots if order.buys else -lots, price, inst.qty_float(1))
        position.update_time = self.now
        account.wallet += realized - (fee[0] if fee[1] == "USDT" else 0.0)
        order.filled += lots
        order.quote += lots * price
        order.status = "FILLED" if order.filled >= order.lots else "PARTIALLY_FILLED"
        order.update_time = self.now
        self.publish(
            account,
            payloads.order_trade_update(
                inst,
                order,
                self.now,
                "TRADE",
                (lots, price),
                fee,
                next(self._trade_ids),
                maker,
                realized,
            ),
        )
        entry = payloads.position_entry(
            inst, account, order.symbol, position, self.upnl(account, order.symbol)
        )
        self.publish(account, payloads.account_update(account, self.now, "ORDER", [entry]))

    def _commission(self, account: Account, usdt: float) -> tuple[float, str]:
        """(amount, asset): in BNB, 10 % off, with the fee discount on and enough BNB held."""
        if account.fee_burn and "BNBUSDT" in self.feed.feeds:
            bnb = usdt * (1 - BNB_FEE_DISCOUNT) / self.mark("BNBUSDT")
            if bnb <= account.bnb:
                account.bnb -= bnb
                return bnb, "BNB"
        return usdt, "USDT"

    def _emit_order(self, account: Account, order: Order, execution: str) -> None:
        inst = self.instrument(order.symbol)
        self.publish(account, payloads.order_trade_update(inst, order, self.now, execution))

    # ---- algo orders ---------------------------------------------------------------------------

    def place_algo(self, account: Account, algo: AlgoOrder) -> AlgoOrder:
        if algo.triggered_by(*self._trigger_range(algo, None)):
            raise ApiError(-2021, "Order would immediately trigger.")
        algo.algo_id = next(self._algo_ids)
        algo.time = algo.update_time = self.now
        account.algos[algo.algo_id] = algo
        self._emit_algo(account, algo)
        return algo

    def cancel_algo(self, account: Account, algo: AlgoOrder) -> AlgoOrder:
        if algo.status != "NEW":
            raise ApiError(-2011, "Unknown order sent.")
        algo.status = "CANCELED"
        algo.update_time = self.now
        self._emit_algo(account, algo)
        return algo

    def _emit_algo(self, account: Account, algo: AlgoOrder, reason: str = "") -> None:
        inst = self.instrument(algo.symbol)
        self.publish(account, payloads.algo_update(inst, algo, self.now, reason))

    def _trigger_range(
        self, algo: AlgoOrder, trades: tuple[int, int] | None
    ) -> tuple[float, float]:
        if algo.working_type == "MARK_PRICE":
            inst = self.instrument(algo.symbol)
            mark_ticks = self.mark(algo.symbol) / inst.price_float(1)
            return mark_ticks, mark_ticks
        if trades is None:
            last = self.last_tick(algo.symbol)
            return last, last
        return trades

    def _trigger(self, account: Account, algo: AlgoOrder) -> None:
        algo.status = "TRIGGERING"
        algo.trigger_time = algo.update_time = self.now
        self._emit_algo(account, algo)
        position = account.position(algo.symbol).lots
        closing = position != 0 and (position > 0) != (algo.side == "BUY")
        if not closing:
            algo.status = "EXPIRED"
            self._emit_algo(account, algo, "ReduceOnly Order is rejected.")
            return
        lots = abs(position) if algo.close_position else min(algo.lots, abs(position))
        order = Order(
            0, algo.client_id, algo.symbol, algo.side, "MARKET", lots, 0, self.now,
            reduce_only=True, close_position=algo.close_position, orig_type=algo.type,
            stop_tick=algo.trigger_tick, working_type=algo.working_type,
        )  # fmt: skip
        order.order_id = next(self._order_ids)
        account.orders[order.order_id] = order
        algo.status = "TRIGGERED"
        algo.actual_order_id = order.order_id
        self._emit_algo(account, algo)
        self._emit_order(account, order, "NEW")
        self._match(account, order)
        algo.status = "FINISHED"
        algo.actual_price = order.avg_price()
        self._emit_algo(account, algo)

    # ---- the market moved ----------------------------------------------------------------------

    def on_market(self) -> None:
        """Fill resting limits and fire algo orders the newest trades (or mark) reached."""
        for _ in range(8):  # a triggered order trades too; repeat until nothing more happens
            if not self._sweep_once():
                return

    def _sweep_once(self) -> bool:
        acted = False
        for symbol in self.feed.feeds:
            trades = self._new_trades(symbol)
            for account in self.accounts.values():
                acted |= self._check_account(account, symbol, trades)
        return acted

    def _new_trades(self, symbol: str) -> tuple[int, int] | None:
        """(lowest, highest) tick traded since the last look, or None."""
        sf = self.feed.feeds[symbol]
        seen = self._seen[symbol]
        low = high = None
        for row in reversed(sf.history):
            if row[0] <= seen:
                break
            low = row[2] if low is None else min(low, row[2])
            high = row[2] if high is None else max(high, row[2])
        self._seen[symbol] = sf.market.agg_id
        return None if low is None or high is None else (low, high)

    def _check_account(self, account: Account, symbol: str, trades: tuple[int, int] | None) -> bool:
        acted = False
        if trades is not None:
            low, high = trades
            for order in account.open_orders(symbol):
                if order.type == "LIMIT" and (
                    low < order.tick if order.buys else high > order.tick
                ):
                    self._fill(account, order, order.lots - order.filled, order.tick, maker=True)
                    acted = True
        for algo in account.open_algos(symbol):
            if algo.working_type == "CONTRACT_PRICE" and trades is None:
                continue
            if algo.triggered_by(*self._trigger_range(algo, trades)):
                self._trigger(account, algo)
                acted = True
        return acted

    # ---- account settings ----------------------------------------------------------------------

    def set_leverage(self, account: Account, symbol: str, leverage: int) -> None:
        account.leverage[symbol] = leverage

    def set_margin_type(self, account: Account, symbol: str, margin_type: str) -> None:
        if account.margin_type_of(symbol) == margin_type:
            raise ApiError(-4046, "No need to change margin type.")
        if account.position(symbol).lots or account.open_orders(symbol):
            raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
        account.margin_type[symbol] = margin_type
