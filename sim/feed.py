"""The feed: turns market events into Binance stream payloads, step by simulated step.

Per symbol it aggregates book updates into diff-depth events per stream speed (U = first update
id in the window, u = last, pu = the previous event's u on that stream, pushed only "if existing"),
derives partial depth and bookTicker from the book, publishes each aggregate trade, samples
liquidations to one per symbol per second, and publishes mark price/funding on its 1 s and 3 s
cadences. All state advances whether anyone listens or not, so what a client receives never
depends on when it subscribed; only serialisation is skipped for streams nobody listens to.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sim import streams
from sim.book import ASK, BID, Side
from sim.faults import Faults
from sim.hub import Hub
from sim.instruments import format_float, format_units, instrument_for
from sim.market import BookUpdate, Liquidation, Market, Trade
from sim.script import Script
from sim.streams import DEPTH_SPEEDS, KLINE_INTERVALS, PARTIAL_LEVELS, depth_name
from sim.truth import Truth, render_book

log = logging.getLogger(__name__)

FUNDING_PERIOD_MS = 8 * 3_600_000
AGG_TRADES_WINDOW_MS = 48 * 3_600_000  # Binance serves /fapi/v1/aggTrades for the past 48 h only
EVENT_LAG_MS = 1  # trade time T → event time E


class DepthStream:
    """Aggregation of one symbol's book updates for one diff-depth speed."""

    __slots__ = ("changes", "first", "last", "name", "prev_final", "skip", "speed", "time")

    def __init__(self, name: str, speed: int, start_uid: int) -> None:
        self.name = name
        self.speed = speed
        self.changes: dict[tuple[str, int], int] = {}
        self.first = 0
        self.last = start_uid
        self.prev_final = start_uid  # so the first event chains onto the initial snapshot
        self.time = 0
        self.skip = 0  # events to withhold (fault)


class Kline:
    __slots__ = (
        "close",
        "f",
        "h",
        "last_id",
        "lo",
        "ms",
        "n",
        "o",
        "quote",
        "start",
        "taker",
        "taker_quote",
        "updated",
        "volume",
    )

    def __init__(self, ms: int, start: int, price: int, last_id: int) -> None:
        self.ms = ms
        self.start = start
        self.o = self.h = self.lo = self.close = price
        self.volume = self.taker = 0  # lots
        self.quote = self.taker_quote = 0  # price units × qty units
        self.n = 0
        self.f = -1
        self.last_id = -1
        self.updated = False


class SymbolFeed:
    """Per-symbol state of the feed."""

    def __init__(self, market: Market, history_limit: int) -> None:
        self.market = market
        self.instrument = market.instrument
        self.symbol = market.instrument.symbol
        low = self.symbol.lower()
        start = market.update_id
        self.depth = [DepthStream(depth_name(self.symbol, s), s, start) for s in DEPTH_SPEEDS]
        self.partial_names = {
            (s, n): depth_name(self.symbol, s, n) for s in DEPTH_SPEEDS for n in PARTIAL_LEVELS
        }
        self.agg_name = f"{low}@aggTrade"
        self.ticker_name = f"{low}@bookTicker"
        self.force_name = f"{low}@forceOrder"
        self.mark_names = {1000: f"{low}@markPrice@1s", 3000: f"{low}@markPrice"}
        self.top: tuple[Any, ...] = ()
        self.last_update_time = 0
        # (a, T, tick, lots, m, f, l) for REST aggTrades and the 24 h ticker
        self.history: deque[tuple[int, int, int, int, bool, int, int]] = deque(maxlen=history_limit)
        self.liquidations: list[Liquidation] = []
        self.klines: dict[str, Kline] = {}
        self.mark_avg = market.mark
        self.last_mark: dict[str, Any] | None = None
        self._prices: dict[int, str] = {}

    def price(self, tick: int) -> str:
        text = self._prices.get(tick)
        if text is None:
            if len(self._prices) > 100_000:
                self._prices.clear()
            text = self._prices[tick] = self.instrument.price_str(tick)
        return text


class Feed:
    """All symbols' markets and the payloads they produce, one ``step()`` at a time."""

    def __init__(
        self,
        symbols: list[str],
        *,
        seed: int,
        rate: float,
        start_ms: int,
        step_ms: int,
        script: Script,
        hub: Hub,
        faults: Faults,
        truth: Truth | None,
        agg_trades_window_ms: int = AGG_TRADES_WINDOW_MS,
        history_limit: int = 500_000,
        ids_after: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        if 50 % step_ms:
            raise ValueError("step_ms must divide 50 (depth speeds are 100/250/500 ms)")
        self.start_ms = start_ms - start_ms % 1000
        self.now = self.start_ms
        self.step_ms = step_ms
        self.script = script
        self.hub = hub
        self.faults = faults
        self.truth = truth
        self.window_ms = agg_trades_window_ms
        self.kline_intervals: set[str] = {"1m"}
        self.feeds: dict[str, SymbolFeed] = {}
        for symbol in symbols:
            market = Market(instrument_for(symbol), seed, rate)
            if ids_after and symbol in ids_after:
                market.continue_after(*ids_after[symbol])
            self.feeds[symbol] = SymbolFeed(market, history_limit)
            if truth is not None:
                truth.start_book(market.instrument, market.update_id, market.book)
        self.steps = 0
        self.after_step: list[Callable[[], None]] = []  # run after every step (order triggers)

    @property
    def symbols(self) -> list[str]:
        return list(self.feeds)

    def set_rate(self, rate: float) -> None:
        for sf in self.feeds.values():
            sf.market.rate = rate

    def track_kline(self, interval: str) -> None:
        """Klines are only kept for intervals someone asked for (and 1m)."""
        self.kline_intervals.add(interval)

    # ---- stepping ------------------------------------------------------------------------------

    def step(self) -> None:
        """Generate and publish one step of simulated time."""
        t0 = self.now
        t1 = t0 + self.step_ms
        seconds = (t0 - self.start_ms) / 1000
        for sf in self.feeds.values():
            regime, instance = self.script.regime(sf.symbol, seconds)
            for event in sf.market.step(t0, self.step_ms, regime, instance):
                self._dispatch(sf, event)
            self._on_boundary(sf, t1)
        self.now = t1
        if t1 % 1000 == 0:
            self._all_market_marks(t1)
        self.steps += 1
        for hook in self.after_step:
            hook()

    def _dispatch(self, sf: SymbolFeed, event: BookUpdate | Trade | Liquidation) -> None:
        kind = type(event)
        if kind is BookUpdate:
            self._on_update(sf, event)  # type: ignore[arg-type]
        elif kind is Trade:
            self._on_trade(sf, event)  # type: ignore[arg-type]
        else:
            sf.liquidations.append(event)  # type: ignore[arg-type]

    def execute(
        self, symbol: str, buys: bool, lots: int, limit_tick: int | None = None
    ) -> list[tuple[int, int, int]]:
        """Sweep ``symbol``'s book with a taker order now; trades and depth are published as usual.

        Returns (tick, filled lots, lots left) per level taken.
        """
        sf = self.feeds[symbol]
        fills, events = sf.market.take(self.now, buys, lots, limit_tick)
        for event in events:
            self._dispatch(sf, event)
        return fills

    def sweep_to(self, symbol: str, tick: int) -> list[tuple[int, int, int]]:
        """Trade the market up (or down) to ``tick``: take every level on the way and one lot at
        ``tick`` itself, where liquidity is left (placed there if the book does not reach that
        far), so orders triggered by the move have something to fill against."""
        return sweep_to(self, symbol, tick)

    def _set_level(self, sf: SymbolFeed, side: Side, tick: int, lots: int) -> None:
        events: list[BookUpdate | Trade | Liquidation] = []
        sf.market._set_level(self.now, side, tick, lots, events)
        for event in events:
            self._dispatch(sf, event)

    def _on_update(self, sf: SymbolFeed, update: BookUpdate) -> None:
        uid, time, changes = update
        for ds in sf.depth:
            if not ds.first:
                ds.first = uid
            pending = ds.changes
            for side, tick, lots in changes:
                pending[side, tick] = lots
            ds.last = uid
            ds.time = time
        sf.last_update_time = time
        if self.truth is not None:
            self.truth.book_change(sf.symbol, uid, changes)
        book = sf.market.book
        bid, ask = book.best_bid(), book.best_ask()
        top = (bid, book.bids.get(bid, 0), ask, book.asks.get(ask, 0))  # type: ignore[arg-type]
        if top == sf.top:
            return
        sf.top = top
        if bid is not None and ask is not None and self.hub.wants(sf.ticker_name):
            inst = sf.instrument
            self.hub.publish(
                sf.ticker_name,
                streams.book_ticker(
                    sf.symbol,
                    uid,
                    time + EVENT_LAG_MS,
                    time,
                    sf.price(bid),
                    inst.qty_str(top[1]),
                    sf.price(ask),
                    inst.qty_str(top[3]),
                ),
            )

    def _on_trade(self, sf: SymbolFeed, trade: Trade) -> None:
        a, time, tick, lots, maker, first, last = trade
        history = sf.history
        history.append(trade)  # type: ignore[arg-type]
        if time - history[0][1] > self.window_ms:
            self.prune_history(sf, time)
        for interval in self.kline_intervals:
            self._kline_trade(sf, interval, trade)
        wants = self.hub.wants(sf.agg_name)
        if not wants and self.truth is None:
            return
        price, qty = sf.price(tick), sf.instrument.qty_str(lots)
        if wants:
            self.hub.publish(
                sf.agg_name,
                streams.agg_trade(
                    sf.symbol, time + EVENT_LAG_MS, a, price, qty, first, last, time, maker
                ),
            )
        if self.truth is not None:
            self.truth.agg_trades[sf.symbol].append(
                {"a": a, "p": price, "q": qty, "f": first, "l": last, "T": time, "m": maker}
            )

    def prune_history(self, sf: SymbolFeed, now: int) -> None:
        history = sf.history
        while history and now - history[0][1] > self.window_ms:
            history.popleft()

    def _on_boundary(self, sf: SymbolFeed, t1: int) -> None:
        for ds in sf.depth:
            if t1 % ds.speed == 0:
                self._emit_depth(sf, ds, t1)
        if t1 % 250 == 0:
            self._emit_klines(sf, t1)
        if t1 % 1000 == 0:
            self._emit_liquidations(sf, t1)
            self._emit_mark(sf, t1, 1000)
            if self.truth is not None:
                oi = sf.instrument.qty_str(sf.market.open_interest)
                self.truth.open_interest[sf.symbol].append({"time": t1, "openInterest": oi})
        if t1 % 3000 == 0:
            self._emit_mark(sf, t1, 3000)

    # ---- depth ---------------------------------------------------------------------------------

    def _emit_depth(self, sf: SymbolFeed, ds: DepthStream, t1: int) -> None:
        if not ds.changes:
            return  # Binance pushes depth only "if existing"
        skips = self.faults.depth_skips
        if skips and sf.symbol in skips:
            count = skips.pop(sf.symbol)
            for other in sf.depth:
                other.skip = count
        hub, truth = self.hub, self.truth
        skipped = ds.skip > 0
        if skipped:
            ds.skip -= 1
        if truth is not None or hub.wants(ds.name):
            qty = sf.instrument.qty_str
            price = sf.price
            changes = ds.changes
            bids = [
                [price(t), qty(changes[BID, t])]
                for t in sorted((t for s, t in changes if s == BID), reverse=True)
            ]
            asks = [
                [price(t), qty(changes[ASK, t])] for t in sorted(t for s, t in changes if s == ASK)
            ]
            payload = streams.depth_update(
                sf.symbol, t1, ds.time, ds.first, ds.last, ds.prev_final, bids, asks
            )
            if truth is not None:
                truth.depth_events[sf.symbol, ds.speed].append({**payload, "skipped": skipped})
            if not skipped:
                hub.publish(ds.name, payload)
        if not skipped:
            for levels in PARTIAL_LEVELS:
                name = sf.partial_names[ds.speed, levels]
                if hub.wants(name):
                    hub.publish(name, self._partial(sf, ds, t1, levels))
        ds.prev_final = ds.last
        ds.first = 0
        ds.changes = {}

    def _partial(self, sf: SymbolFeed, ds: DepthStream, t1: int, levels: int) -> dict[str, Any]:
        book = render_book(sf.instrument, sf.market.book, ds.last, levels)
        return streams.depth_update(
            sf.symbol, t1, ds.time, ds.first, ds.last, ds.prev_final, book["bids"], book["asks"]
        )

    # ---- marks, liquidations, klines -----------------------------------------------------------

    def _mark_payload(self, sf: SymbolFeed, t1: int) -> dict[str, Any]:
        market = sf.market
        precision = sf.instrument.price_precision
        mark = round(market.mark, precision)
        sf.mark_avg += (mark - sf.mark_avg) * 0.1
        next_funding = (t1 // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
        return streams.mark_price(
            sf.symbol,
            t1,
            format_float(mark),
            format_float(market.index),
            format_float(market.index * (1 + market.premium / 2)),
            format_float(market.funding_rate()),
            next_funding,
            format_float(round(sf.mark_avg, precision)),
        )

    def _emit_mark(self, sf: SymbolFeed, t1: int, speed: int) -> None:
        if speed == 1000:
            sf.last_mark = self._mark_payload(sf, t1)
            if self.truth is not None:
                self.truth.mark_prices[sf.symbol].append(sf.last_mark)
        name = sf.mark_names[speed]
        if sf.last_mark is not None and self.hub.wants(name):
            self.hub.publish(name, sf.last_mark)

    def _all_market_marks(self, t1: int) -> None:
        marks = [sf.last_mark for sf in self.feeds.values() if sf.last_mark is not None]
        if self.hub.wants("!markPrice@arr@1s"):
            self.hub.publish("!markPrice@arr@1s", marks)
        if t1 % 3000 == 0 and self.hub.wants("!markPrice@arr"):
            self.hub.publish("!markPrice@arr", marks)

    def _emit_liquidations(self, sf: SymbolFeed, t1: int) -> None:
        window = sf.liquidations
        if not window:
            return
        sf.liquidations = []
        # Binance pushes only the latest liquidation of each symbol per 1000 ms.
        latest = self._force_payload(sf, window[-1], t1)
        if self.truth is not None:
            record = self.truth.force_orders[sf.symbol]
            for liquidation in window[:-1]:
                record.append({**self._force_payload(sf, liquidation, t1), "sampled_out": True})
            record.append({**latest, "sampled_out": False})
        for name in (sf.force_name, "!forceOrder@arr"):
            if self.hub.wants(name):
                self.hub.publish(name, latest)

    def _force_payload(self, sf: SymbolFeed, liq: Liquidation, t1: int) -> dict[str, Any]:
        inst = sf.instrument
        filled = inst.qty_str(liq.filled_lots)
        return streams.force_order(
            sf.symbol,
            t1,
            liq.side,
            filled,
            sf.price(liq.limit_tick),
            format_units(round(liq.avg_units), inst.price_precision),
            inst.qty_str(liq.last_lots),
            filled,
            liq.time,
        )

    def _kline_trade(self, sf: SymbolFeed, interval: str, trade: Trade) -> None:
        k = sf.klines.get(interval)
        if k is None:
            ms = KLINE_INTERVALS[interval]
            k = sf.klines[interval] = Kline(ms, trade.time - trade.time % ms, trade.tick, -1)
        units = trade.tick * sf.instrument.tick_units * trade.lots * sf.instrument.step_units
        if k.n == 0:
            k.o = k.h = k.lo = trade.tick
            k.f = trade.first_id
        k.h = max(k.h, trade.tick)
        k.lo = min(k.lo, trade.tick)
        k.close = trade.tick
        k.volume += trade.lots
        k.quote += units
        k.n += trade.last_id - trade.first_id + 1
        k.last_id = trade.last_id
        if not trade.buyer_maker:
            k.taker += trade.lots
            k.taker_quote += units
        k.updated = True

    def _emit_klines(self, sf: SymbolFeed, t1: int) -> None:
        for interval, k in list(sf.klines.items()):
            closed = t1 >= k.start + k.ms
            name = f"{sf.symbol.lower()}@kline_{interval}"
            if (k.updated or closed) and self.hub.wants(name):
                self.hub.publish(
                    name, streams.kline(sf.symbol, t1, self._kline_body(sf, interval, k, closed))
                )
            k.updated = False
            if closed:
                start = t1 - t1 % k.ms
                sf.klines[interval] = Kline(k.ms, start, k.close, k.last_id)

    def _kline_body(self, sf: SymbolFeed, interval: str, k: Kline, closed: bool) -> dict[str, Any]:
        inst = sf.instrument
        quote_precision = inst.price_precision + inst.quantity_precision
        return {
            "t": k.start,
            "T": k.start + k.ms - 1,
            "s": sf.symbol,
            "i": interval,
            "f": k.f,
            "L": k.last_id if k.n else -1,
            "o": sf.price(k.o),
            "c": sf.price(k.close),
            "h": sf.price(k.h),
            "l": sf.price(k.lo),
            "v": inst.qty_str(k.volume),
            "n": k.n,
            "x": closed,
            "q": format_units(k.quote, quote_precision),
            "V": inst.qty_str(k.taker),
            "Q": format_units(k.taker_quote, quote_precision),
            "B": "0",
        }

    # ---- views for REST ------------------------------------------------------------------------

    def depth_snapshot(self, symbol: str, limit: int) -> dict[str, Any]:
        sf = self.feeds[symbol]
        book = render_book(sf.instrument, sf.market.book, sf.market.update_id, limit)
        return {
            "lastUpdateId": book["lastUpdateId"],
            "E": self.now,
            "T": sf.last_update_time or self.now,
            "bids": book["bids"],
            "asks": book["asks"],
        }


class Sweepable(Protocol):
    """A market feed ``sweep_to`` can move (futures' Feed, spot's SpotFeed)."""

    @property
    def feeds(self) -> Mapping[str, Any]: ...

    def execute(
        self, symbol: str, buys: bool, lots: int, limit_tick: int | None = None
    ) -> list[tuple[int, int, int]]: ...

    def _set_level(self, sf: Any, side: Side, tick: int, lots: int) -> None: ...


def sweep_to(feed: Sweepable, symbol: str, tick: int) -> list[tuple[int, int, int]]:
    """``Feed.sweep_to`` on any feed of markets."""
    sf = feed.feeds[symbol]
    market, book = sf.market, sf.market.book
    ask, bid = book.best_ask(), book.best_bid()
    buys = ask is not None and tick >= ask
    if not buys and (bid is None or tick > bid):
        return []
    side = ASK if buys else BID
    depth = 20 * market.typical
    if book.qty(side, tick) < depth:
        feed._set_level(sf, side, tick, depth)
    levels = book.asks if buys else book.bids
    lots = 1 + sum(q for t, q in levels.items() if (t < tick if buys else t > tick))
    fills = feed.execute(symbol, buys, lots, tick)
    # the other side follows the move, as it would on a real market
    feed._set_level(sf, BID if buys else ASK, tick - 1 if buys else tick + 1, depth)
    return fills
