"""Spot trading in the simulator: balances per asset and LIMIT/MARKET orders on the spot markets.

The futures engine's rules (orders.py) hold here too, on the spot books: a MARKET order walks
the book; a LIMIT order takes what crosses, then rests off-book and fills in full, as maker,
once the spot market trades *through* its price. Spot is not margined: an order locks what it
may spend (a BUY its quote, price × quantity; a SELL its base quantity) and a fill moves the
assets; the commission (``SPOT_FEE`` of what is received) is taken from the asset received,
as Binance does without BNB, so a BUY of 0.010 BTC leaves 0.00999 BTC to sell.

A spot account belongs to a futures account's API key (one key pair trades both here).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from sim.accounts import OPEN, Order
from sim.instruments import Instrument
from sim.rest import ApiError
from sim.spot import SpotFeed

SPOT_FEE = 0.001  # Binance spot's base rate, maker and taker
SPOT_MIN_NOTIONAL = 5.0  # exchangeInfo NOTIONAL minNotional of every simulated spot symbol
DEFAULT_SPOT_BALANCES = {"USDT": 10_000.0}


def insufficient() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


@dataclass
class SpotAccount:
    free: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    locked: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    orders: dict[int, Order] = field(default_factory=dict)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.status in OPEN and (symbol is None or o.symbol == symbol)
        ]

    def find(self, order_id: int | None, client_id: str | None) -> Order | None:
        if order_id is not None:
            return self.orders.get(order_id)
        matches = [o for o in self.orders.values() if o.client_id == client_id]
        return matches[-1] if matches else None


class SpotEngine:
    def __init__(self, spot: SpotFeed, keys: list[str], balances: dict[str, float]) -> None:
        self.spot = spot
        self.accounts: dict[str, SpotAccount] = {}
        for key in keys:
            account = self.accounts[key] = SpotAccount()
            account.free.update(balances)
        self._order_ids = itertools.count(21_000_000_000)
        self._seen = {s: sf.market.agg_id for s, sf in spot.feeds.items()}
        spot.feed.after_step.append(self.on_market)  # after SpotFeed.catch_up: spot has moved

    @property
    def now(self) -> int:
        return self.spot.now

    def instrument(self, symbol: str) -> Instrument:
        return self.spot.feeds[symbol].instrument

    # ---- orders --------------------------------------------------------------------------------

    def place(self, account: SpotAccount, order: Order) -> Order:
        inst = self.instrument(order.symbol)
        tick = order.tick or self.spot.feeds[order.symbol].market.last_tick
        notional = inst.qty_float(order.lots) * inst.price_float(tick)
        if notional < SPOT_MIN_NOTIONAL:
            raise ApiError(-1013, "Filter failure: NOTIONAL")
        asset, amount = self._spends(inst, order, tick)
        if amount > account.free[asset] + 1e-12:
            raise insufficient()
        order.order_id = next(self._order_ids)
        order.time = order.update_time = self.now
        account.orders[order.order_id] = order
        if order.type == "LIMIT":
            self._lock(account, asset, amount)
        self._match(account, order)
        return order

    def _spends(self, inst: Instrument, order: Order, tick: int) -> tuple[str, float]:
        """The asset and amount an order may spend; a MARKET BUY is judged at 1 % above the
        last price (the book may be thinner than that)."""
        if not order.buys:
            return inst.base_asset, inst.qty_float(order.lots)
        price = inst.price_float(tick) * (1.01 if order.type == "MARKET" else 1.0)
        return inst.quote_asset, inst.qty_float(order.lots) * price

    def _lock(self, account: SpotAccount, asset: str, amount: float) -> None:
        account.free[asset] -= amount
        account.locked[asset] += amount

    def _match(self, account: SpotAccount, order: Order) -> None:
        limit = order.tick if order.type == "LIMIT" else None
        for tick, lots, _ in self.spot.execute(order.symbol, order.buys, order.lots, limit):
            self._fill(account, order, lots, tick)
        if order.filled < order.lots and order.type == "MARKET":
            order.status = "EXPIRED"

    def cancel(self, account: SpotAccount, order: Order) -> Order:
        if order.status not in OPEN:
            raise ApiError(-2011, "Unknown order sent.")
        inst = self.instrument(order.symbol)
        asset, amount = self._spends(inst, order, order.tick)
        left = amount * (order.lots - order.filled) / order.lots
        self._lock(account, asset, -left)
        order.status = "CANCELED"
        order.update_time = self.now
        return order

    def _fill(self, account: SpotAccount, order: Order, lots: int, tick: int) -> None:
        inst = self.instrument(order.symbol)
        qty, price = inst.qty_float(lots), inst.price_float(tick)
        base, quote = inst.base_asset, inst.quote_asset
        if order.buys:
            paid = qty * (inst.price_float(order.tick) if order.type == "LIMIT" else price)
            account.locked[quote] -= paid if order.type == "LIMIT" else 0.0
            account.free[quote] += paid - qty * price if order.type == "LIMIT" else -qty * price
            account.free[base] += qty * (1 - SPOT_FEE)
        else:
            account.locked[base] -= qty if order.type == "LIMIT" else 0.0
            account.free[base] -= 0.0 if order.type == "LIMIT" else qty
            account.free[quote] += qty * price * (1 - SPOT_FEE)
        order.filled += lots
        order.quote += lots * price
        order.status = "FILLED" if order.filled >= order.lots else "PARTIALLY_FILLED"
        order.update_time = self.now

    # ---- the market moved ----------------------------------------------------------------------

    def on_market(self) -> None:
        """Fill resting LIMIT orders the spot trades since the last look went through."""
        for symbol, sf in self.spot.feeds.items():
            seen, self._seen[symbol] = self._seen[symbol], sf.market.agg_id
            ticks = []
            for row in reversed(sf.history):  # the trades since the last look, newest first
                if row[0] <= seen:
                    break
                ticks.append(row[2])
            if not ticks:
                continue
            low, high = min(ticks), max(ticks)
            for account in self.accounts.values():
                for order in account.open_orders(symbol):
                    if order.type == "LIMIT" and (
                        low < order.tick if order.buys else high > order.tick
                    ):
                        self._fill(account, order, order.lots - order.filled, order.tick)
