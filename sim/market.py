"""The per-symbol market: a seeded random process over a real limit order book.

Limit orders arrive and are cancelled, market orders sweep the book (each level they take from
becomes one aggregate trade), liquidations are IOC orders that do the same, and open interest moves
with every trade. Every change to the book is one *update* with an update id, as in Binance's
matching engine; the feed turns updates into depth diffs, so trades and depth always agree.

Nothing here knows wall time: ``step(t0, dt, ...)`` generates the events of ``[t0, t0 + dt)`` of
simulated time from the market's own ``random.Random``, so the same seed gives the same events.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from sim.book import ASK, BID, OrderBook, Side
from sim.instruments import Instrument
from sim.script import NORMAL, Regime

MAX_LEVELS = 600  # per side; the farthest level is dropped beyond this (keeps memory and work flat)
MIN_LEVELS = 25  # a side thinner than this gets the next limit order
# The market makers: after every market order and every step each side holds QUOTE_LEVELS
# levels within QUOTE_BPS of the last trade, so a panic or a breakout moves the price through a
# thin book instead of emptying one side of it (which no liquid perpetual shows, and which gave
# the strategies fills at absurd spreads). They use no randomness: a calm book never needs
# them, so the seeded process is unchanged until a sweep leaves a side bare.
QUOTE_LEVELS = 10
QUOTE_BPS = 2
# A market order sweeps at most SWEEP_BPS past the touch and the rest expires, as a trader's
# slippage limit (and Binance's price protection) would have it: a block order hitting the thin
# side of a moving market would otherwise print percents away (a 7 % spike inside a panic).
SWEEP_BPS = 30


class BookUpdate(NamedTuple):
    """One matching-engine update: the new absolute quantity of every level it touched."""

    uid: int
    time: int
    changes: list[tuple[Side, int, int]]  # (side, tick, lots); 0 lots = level removed


class Trade(NamedTuple):
    """One aggregate trade: the fills of one taker order at one price."""

    agg_id: int
    time: int
    tick: int
    lots: int
    buyer_maker: bool
    first_id: int
    last_id: int


class Liquidation(NamedTuple):
    """A forced IOC order and how it filled."""

    time: int
    side: str  # "SELL": a long was liquidated
    lots: int
    limit_tick: int
    avg_units: float  # average fill price in 10**-price_precision units
    last_lots: int
    filled_lots: int


Event = BookUpdate | Trade | Liquidation


class Market:
    """One symbol's book and random order flow."""

    def __init__(
        self,
        instrument: Instrument,
        seed: int,
        rate: float,
        levels: int = 200,
        spot: bool = False,
        venue: str = "",
    ) -> None:
        """``venue`` (e.g. "bybit") gives the market its own random flow, so a second venue's
        market neither copies nor changes the first one's."""
        self.instrument = instrument
        self.rate = rate  # order-book events per second at rate_mult 1
        self.spot = spot  # a spot book: its own random flow, consecutive update ids
        label = f"{seed}/spot/{instrument.symbol}" if spot else f"{seed}/{instrument.symbol}"
        self.rng = random.Random(f"{venue}/{label}" if venue else label)
        self.book = OrderBook()
        self.update_id = self.rng.randrange(10**9, 2 * 10**9)
        self.agg_id = self.rng.randrange(10**8, 2 * 10**8)
        self.trade_id = self.agg_id * 3
        self.typical = instrument.typical_lots
        self.open_interest = self.typical * 5000  # in lots
        self.last_tick = instrument.initial_tick
        self._carry = 0.0
        self._liq_carry = 0.0
        self._walls: dict[int, int] = {}  # episode instance → the tick its wall sits on
        self._seed_book(levels)
        self.index = self.mid_price()
        self.premium = 0.0  # smoothed (mid - index) / index

    def continue_after(self, update_id: int, agg_id: int) -> None:
        """Start the update and trade ids past these (a restart on the same recording); the
        random process is the same, only the ids move."""
        self.update_id = max(self.update_id, update_id + 1)
        if agg_id > self.agg_id:  # the next trade is agg_id + 1: no trade id goes missing
            self.agg_id = agg_id
            self.trade_id = self.agg_id * 3

    def _seed_book(self, levels: int) -> None:
        top = self.instrument.initial_tick
        for i in range(levels):
            self.book.set(BID, top - 1 - i, self._limit_size())
            self.book.set(ASK, top + i, self._limit_size())

    # ---- sizes, ids, prices -------------------------------------------------------------------

    def _limit_size(self) -> int:
        return max(1, int(self.typical * self.rng.expovariate(1.0)))

    def _next_uid(self) -> int:
        # Futures update ids are not contiguous (other books share the sequence): skip some.
        # Spot's are: its diff stream chains by U == previous u + 1.
        if self.spot:
            self.update_id += 1
        else:
            self.update_id += 1 if self.rng.random() < 0.7 else self.rng.randint(2, 4)
        return self.update_id

    def mid_price(self) -> float:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return self.instrument.price_float(self.last_tick)
        return (self.instrument.price_float(bid) + self.instrument.price_float(ask)) / 2

    @property
    def mark(self) -> float:
        return self.index * (1 + self.premium)

    def funding_rate(self) -> float:
        # Binance: premium + clamp(interest - premium, ±0.05%), capped at ±0.75%.
        interest = 0.0001
        rate = self.premium + max(-0.0005, min(0.0005, interest - self.premium))
        return max(-0.0075, min(0.0075, rate))

    # ---- the process ---------------------------------------------------------------------------

    def step(
        self, t0: int, dt: int, regime: Regime = NORMAL, instance: int | None = None
    ) -> list[Event]:
        """All events of simulated ``[t0, t0 + dt)``, in time order."""
        events: list[Event] = []
        self._maintain_wall(t0, regime, instance, events)
        expected = self.rate * regime.rate_mult * dt / 1000 + self._carry
        n = int(expected)
        self._carry = expected - n
        rng = self.rng
        market_cut = regime.market_share
        cancel_cut = market_cut + regime.cancel_share
        for i in range(n):
            t = t0 + (i * dt) // n
            r = rng.random()
            if r < market_cut:
                self._market_order(t, regime, events)
                self._quote(t, events)
            elif r < cancel_cut:
                self._cancel(t, regime, events)
            else:
                self._limit(t, regime, events)
        self._liquidations(t0 + dt - 1, dt, regime, events)
        self._quote(t0 + dt - 1, events)
        self._move_index()
        return events

    def _limit(self, t: int, regime: Regime, events: list[Event]) -> None:
        book, rng = self.book, self.rng
        side: Side = BID if rng.random() < regime.bid_prob else ASK
        if book.depth(BID) < MIN_LEVELS:
            side = BID
        elif book.depth(ASK) < MIN_LEVELS:
            side = ASK
        tick = self._limit_tick(side)
        changes = [(side, tick, book.qty(side, tick) + self._limit_size())]
        book.set(*changes[0])
        if book.depth(side) > MAX_LEVELS:
            far = book.worst(side)
            book.set(side, far, 0)
            changes.append((side, far, 0))
        events.append(BookUpdate(self._next_uid(), t, changes))

    def _limit_tick(self, side: Side) -> int:
        book, rng = self.book, self.rng
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            anchor = self.last_tick
            return (
                anchor - 1 - int(rng.expovariate(0.2))
                if side == BID
                else anchor + int(rng.expovariate(0.2))
            )
        if ask - bid > 1 and rng.random() < 0.6:
            return bid + 1 if side == BID else ask - 1  # improve a wide spread
        # Most orders rest near the touch; the rest spread over the deep book keeps it deep.
        distance = int(rng.expovariate(0.25)) if rng.random() < 0.6 else rng.randrange(250)
        return bid - distance if side == BID else ask + distance

    def _quote(self, t: int, events: list[Event]) -> None:
        """Post what a side lacks near the last trade, from the touch outwards (one update)."""
        book, last = self.book, self.last_tick
        band = max(QUOTE_LEVELS, last * QUOTE_BPS // 10_000)
        changes: list[tuple[Side, int, int]] = []
        for side in (BID, ASK):
            if side == BID:
                edge, step = last - band, -1
                start = min(last, (book.best_ask() or last + 1) - 1)
            else:
                edge, step = last + band, 1
                start = max(last + 1, (book.best_bid() or last) + 1)
            near = [t for t, _ in book.top(side, QUOTE_LEVELS) if (t - edge) * step <= 0]
            tick = start
            while len(near) < QUOTE_LEVELS:
                if book.qty(side, tick) == 0:
                    lots = max(1, self.typical * (2 + tick % 3) // 2)  # varied, without the rng
                    book.set(side, tick, lots)
                    changes.append((side, tick, lots))
                    near.append(tick)
                tick += step
        if changes:
            events.append(BookUpdate(self._next_uid(), t, changes))

    def _cancel(self, t: int, regime: Regime, events: list[Event]) -> None:
        book, rng = self.book, self.rng
        # Cancels fall on the side limit orders avoid: bids are pulled in a panic.
        side: Side = ASK if rng.random() < regime.bid_prob else BID
        depth = book.depth(side)
        if depth <= MIN_LEVELS:
            return
        tick = book.tick_at(side, min(int(rng.expovariate(0.1)), depth - 1))
        if tick in self._walls.values():
            return  # walls are managed by their episode
        qty = book.qty(side, tick)
        left = 0 if rng.random() < 0.25 else qty - max(1, int(qty * rng.random()))
        book.set(side, tick, left)
        events.append(BookUpdate(self._next_uid(), t, [(side, tick, left)]))

    def _market_order(self, t: int, regime: Regime, events: list[Event]) -> None:
        rng = self.rng
        buys = rng.random() < regime.buy_prob
        lots = max(1, int(self.typical * regime.size_mult * rng.expovariate(1.0) * 0.6))
        if rng.random() < 0.02:
            lots *= 8  # the occasional block order
        best = self.book.best_ask() if buys else self.book.best_bid()
        limit = None
        if best is not None:
            reach = max(2, best * SWEEP_BPS // 10_000)
            limit = best + reach if buys else best - reach
        self._take(t, buys, lots, limit, regime.open_prob, events)

    def take(
        self, t: int, buys: bool, lots: int, limit_tick: int | None = None
    ) -> tuple[list[tuple[int, int, int]], list[Event]]:
        """A taker order from outside the random flow (a simulated account's order)."""
        events: list[Event] = []
        fills = self._take(t, buys, lots, limit_tick, 0.5, events)
        return fills, events

    def _take(
        self,
        t: int,
        buys: bool,
        lots: int,
        limit_tick: int | None,
        open_prob: float,
        events: list[Event],
    ) -> list[tuple[int, int, int]]:
        fills = self.book.sweep(buys, lots, limit_tick)
        if not fills:
            return fills
        side: Side = ASK if buys else BID
        events.append(
            BookUpdate(self._next_uid(), t, [(side, tick, left) for tick, _, left in fills])
        )
        rng = self.rng
        for tick, filled, _ in fills:
            makers = 1 + int(rng.expovariate(1.0) * 2)
            first = self.trade_id + 1
            self.trade_id += makers
            self.agg_id += 1
            events.append(Trade(self.agg_id, t, tick, filled, not buys, first, self.trade_id))
            if rng.random() < open_prob:
                self.open_interest += filled
            else:
                self.open_interest = max(self.typical * 100, self.open_interest - filled)
        self.last_tick = fills[-1][0]
        return fills

    def _liquidations(self, t: int, dt: int, regime: Regime, events: list[Event]) -> None:
        expected = regime.liquidations_per_s * dt / 1000 + self._liq_carry
        count = int(expected)
        self._liq_carry = expected - count
        rng = self.rng
        for _ in range(count):
            sells = rng.random() < regime.long_liquidated_prob
            lots = max(1, int(self.typical * rng.expovariate(1.0) * 3))
            best = self.book.best_bid() if sells else self.book.best_ask()
            if best is None:
                continue
            # The bankruptcy price sits beyond the book: the IOC sweeps until it, then expires.
            slip = max(2, best // 400)
            limit = best - slip if sells else best + slip
            fills = self._take(t, not sells, lots, limit, 0.0, events)
            filled = sum(f for _, f, _ in fills)
            if not filled:
                continue
            units = self.instrument.tick_units
            avg = sum(tick * f for tick, f, _ in fills) * units / filled
            side = "SELL" if sells else "BUY"
            events.append(Liquidation(t, side, lots, limit, avg, fills[-1][1], filled))
            self.open_interest = max(self.typical * 100, self.open_interest - filled)

    def _maintain_wall(
        self, t: int, regime: Regime, instance: int | None, events: list[Event]
    ) -> None:
        wall = regime.wall
        if wall is None or instance is None:
            self._walls.clear()
            return
        book = self.book
        side: Side = BID if wall.side == "b" else ASK
        tick = self._walls.get(instance)
        target = max(0, int(wall.size * self.typical))
        if tick is None:
            best = book.best_bid() if side == BID else book.best_ask()
            if best is None:
                return
            tick = best - wall.offset if side == BID else best + wall.offset
            self._walls.clear()
            self._walls[instance] = tick
            self._set_level(t, side, tick, max(target, book.qty(side, tick)), events)
            return
        qty = book.qty(side, tick)
        crossed = (side == BID and (book.best_ask() or tick + 1) <= tick) or (
            side == ASK and (book.best_bid() or tick - 1) >= tick
        )
        if crossed:
            return
        if (wall.hold and qty < target) or (wall.erode and qty > target):
            self._set_level(t, side, tick, target, events)

    def _set_level(self, t: int, side: Side, tick: int, lots: int, events: list[Event]) -> None:
        self.book.set(side, tick, lots)
        events.append(BookUpdate(self._next_uid(), t, [(side, tick, lots)]))

    def _move_index(self) -> None:
        # The index (spot average) trails our mid with noise; the premium is their smoothed gap.
        mid = self.mid_price()
        self.index += (mid - self.index) * 0.05 + self.rng.gauss(0.0, mid * 0.00002)
        gap = (mid - self.index) / self.index if self.index else 0.0
        self.premium += (gap - self.premium) * 0.02
