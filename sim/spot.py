"""The spot side of the simulator: a separate seeded market per spot symbol, its streams and truth.

Binance spot differs from USDⓈ-M where a recorder can trip: update ids of a symbol's book are
consecutive, so diff depth chains by ``U == previous u + 1`` and has no ``pu`` (nor ``T``); diff
depth comes at 1000 ms (``@depth``) or 100 ms (``@depth@100ms``); aggTrade carries ``M`` (ignore)
and no ``nq``/``st``; there are no mark prices, liquidations or open interest.

Spot markets step with the futures feed (an ``after_step`` hook), on the same simulated clock and
the same script, but from their own random streams, so futures payloads do not change whether
spot is on or not. Spot connections have their own hub: stream names are the same as futures'.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from sim.book import Side
from sim.feed import EVENT_LAG_MS, DepthStream, Feed, sweep_to
from sim.hub import Hub
from sim.instruments import Instrument, instrument_for
from sim.market import BookUpdate, Event, Market, Trade
from sim.streams import agg_trade, depth_update
from sim.truth import Truth, render_book

SPOT = "spot"  # the route of spot connections (for faults.drop_connections(route="spot"))
SPOT_DEPTH_SPEEDS = (1000, 100)  # ms: "<s>@depth" is the 1000 ms stream on spot
_SPOT_STREAM = re.compile(r"^([a-z0-9]+)@(aggTrade|depth(?:@100ms|@1000ms)?)$")


def spot_depth_name(symbol: str, speed: int) -> str:
    return f"{symbol.lower()}@depth" + ("@100ms" if speed == 100 else "")


def spot_stream_symbol(name: str) -> str | None:
    """The symbol (upper case) of a spot stream the simulator serves, else None (silent)."""
    match = _SPOT_STREAM.match(name)
    return match.group(1).upper() if match else None


def spot_agg_trade(
    symbol: str, e_time: int, a: int, p: str, q: str, f: int, last: int, t: int, m: bool
) -> dict[str, Any]:
    """Binance spot's aggTrade payload, key for key: futures' without ``nq``/``st``, with ``M``
    ("ignore", always true)."""
    payload = agg_trade(symbol, e_time, a, p, q, f, last, t, m)
    del payload["nq"], payload["st"]
    payload["M"] = True
    return payload


def spot_depth_update(
    symbol: str, e_time: int, first: int, final: int, bids: list[list[str]], asks: list[list[str]]
) -> dict[str, Any]:
    """Binance spot's diff depth payload: futures' without ``T``, ``pu``, ``ps``, ``st``."""
    payload = depth_update(symbol, e_time, 0, first, final, 0, bids, asks)
    for key in ("T", "pu", "ps", "st"):
        del payload[key]
    return payload


class SpotSymbol:
    """One spot symbol's market, depth aggregation per speed and trade history."""

    def __init__(self, market: Market, history_limit: int) -> None:
        self.market = market
        self.instrument: Instrument = market.instrument
        self.symbol = market.instrument.symbol
        self.agg_name = f"{self.symbol.lower()}@aggTrade"
        start = market.update_id
        self.depth = [
            DepthStream(spot_depth_name(self.symbol, s), s, start) for s in SPOT_DEPTH_SPEEDS
        ]
        # (a, T, tick, lots, m, f, l) for REST aggTrades; spot keeps no 48 h window
        self.history: deque[Trade] = deque(maxlen=history_limit)

    def price(self, tick: int) -> str:
        return self.instrument.price_str(tick)


class SpotFeed:
    """Every spot symbol, stepped up to the futures feed's clock after each of its steps."""

    def __init__(
        self,
        symbols: list[str],
        feed: Feed,
        *,
        seed: int,
        rate: float,
        truth: Truth | None,
        history_limit: int,
    ) -> None:
        self.feed = feed
        self.hub = Hub(feed.faults)
        self.truth = truth
        self.now = feed.now
        self.feeds: dict[str, SpotSymbol] = {}
        self.status: dict[str, str] = {}  # symbol -> exchangeInfo status other than TRADING
        for symbol in symbols:
            market = Market(instrument_for(symbol), seed, rate, spot=True)
            self.feeds[symbol] = SpotSymbol(market, history_limit)
            if truth is not None:
                truth.start_book(market.instrument, market.update_id, market.book)
        feed.after_step.append(self.catch_up)

    def catch_up(self) -> None:
        """Generate and publish spot up to the futures clock; frames go out at once."""
        step = self.feed.step_ms
        while self.now < self.feed.now:
            t0, t1 = self.now, self.now + step
            seconds = (t0 - self.feed.start_ms) / 1000
            for sf in self.feeds.values():
                regime, instance = self.feed.script.regime(sf.symbol, seconds)
                for event in sf.market.step(t0, step, regime, instance):
                    self._dispatch(sf, event)
                for ds in sf.depth:
                    if t1 % ds.speed == 0:
                        self._emit_depth(sf, ds, t1)
            self.now = t1
        self.hub.flush()

    def _dispatch(self, sf: SpotSymbol, event: Event) -> None:
        if type(event) is BookUpdate:
            self._on_update(sf, event)
        elif type(event) is Trade:
            self._on_trade(sf, event)

    def execute(
        self, symbol: str, buys: bool, lots: int, limit_tick: int | None = None
    ) -> list[tuple[int, int, int]]:
        """A spot account's taker order now (as ``Feed.execute`` on futures): its trades and
        depth changes go out on the spot streams. Returns (tick, filled lots, lots left)."""
        sf = self.feeds[symbol]
        fills, events = sf.market.take(self.now, buys, lots, limit_tick)
        for event in events:
            self._dispatch(sf, event)
        self.hub.flush()
        return fills

    def sweep_to(self, symbol: str, tick: int) -> list[tuple[int, int, int]]:
        """Trade the spot market to ``tick`` (as ``Feed.sweep_to``), so resting orders on the
        way fill in tests."""
        return sweep_to(self, symbol, tick)

    def _set_level(self, sf: SpotSymbol, side: Side, tick: int, lots: int) -> None:
        events: list[Event] = []
        sf.market._set_level(self.now, side, tick, lots, events)
        for event in events:
            self._dispatch(sf, event)

    def _on_update(self, sf: SpotSymbol, update: BookUpdate) -> None:
        uid, time, changes = update
        for ds in sf.depth:
            if not ds.first:
                ds.first = uid
            for side, tick, lots in changes:
                ds.changes[side, tick] = lots
            ds.last = uid
            ds.time = time
        if self.truth is not None:
            self.truth.book_change(sf.symbol, uid, changes)

    def _on_trade(self, sf: SpotSymbol, trade: Trade) -> None:
        sf.history.append(trade)
        a, time, tick, lots, maker, first, last = trade
        price, qty = sf.price(tick), sf.instrument.qty_str(lots)
        if self.hub.wants(sf.agg_name):
            payload = spot_agg_trade(
                sf.symbol, time + EVENT_LAG_MS, a, price, qty, first, last, time, maker
            )
            self.hub.publish(sf.agg_name, payload)
        if self.truth is not None:
            self.truth.agg_trades[sf.symbol].append(
                {"a": a, "p": price, "q": qty, "f": first, "l": last, "T": time, "m": maker}
            )

    def _emit_depth(self, sf: SpotSymbol, ds: DepthStream, t1: int) -> None:
        if not ds.changes:
            return  # pushed only "if existing", as on futures
        if self.truth is not None or self.hub.wants(ds.name):
            qty, changes = sf.instrument.qty_str, ds.changes
            bids = [
                [sf.price(t), qty(changes["b", t])]
                for t in sorted((t for s, t in changes if s == "b"), reverse=True)
            ]
            asks = [
                [sf.price(t), qty(changes["a", t])]
                for t in sorted(t for s, t in changes if s == "a")
            ]
            payload = spot_depth_update(sf.symbol, t1, ds.first, ds.last, bids, asks)
            if self.truth is not None:
                self.truth.depth_events[sf.symbol, ds.speed].append({**payload, "skipped": False})
            self.hub.publish(ds.name, payload)
        ds.prev_final = ds.last
        ds.first = 0
        ds.changes = {}

    def depth_snapshot(self, symbol: str, limit: int) -> dict[str, Any]:
        """REST ``/api/v3/depth``: spot's answer has no ``E``/``T``."""
        market = self.feeds[symbol].market
        return render_book(market.instrument, market.book, market.update_id, limit)

    def book(self, symbol: str) -> dict[str, Any]:
        market = self.feeds[symbol].market
        return render_book(market.instrument, market.book, market.update_id)
