"""Bybit v5 linear on the simulator: a seeded market per symbol, its topics' payloads and truth.

Where Bybit differs from Binance in ways a recorder can trip on (facts: the project's
reference/bybit-v5.md):

- ``orderbook.{50|200|1000}.{S}``: a snapshot to each new subscriber, then deltas of the top N
  levels every 20/100/200 ms while something changed. ``u`` counts the topic's messages (+1 per
  delta); ``seq`` is the cross sequence (here: the market's update id, so ``Truth.book_at(seq)``
  is the full book a delta was cut from); a level that leaves the top N comes as size ``"0"``.
  A service restart (``restart()``) re-sends a snapshot with ``u == 1`` to every subscriber.
- ``publicTrade.{S}``: every trade, batched per simulator step (at most 1,024 per message); ids
  are UUID strings (not a sequence: holes cannot be found from them); ``S`` is the taker side.
- ``allLiquidation.{S}``: every liquidation (no sampling as on Binance), batched per 500 ms;
  ``S == "Buy"`` means a long position was liquidated (Binance's forceOrder says SELL for it).
- ``tickers.{S}``: a snapshot to each new subscriber, then every 100 ms a delta holding only the
  fields that changed.

The markets step with the Binance feed (its ``after_step`` hook), on the same clock and script,
from their own random streams (``Market(venue="bybit")``): Binance's payloads do not change
whether Bybit is on or not, and the two venues' prices wander apart as real ones do a little.
Ticker fields served: the ones a recorder keeps (prices, funding, open interest, best bid/ask,
24 h volume and turnover); Bybit's 24 h high/low/change fields are left out.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from typing import Any

from sim.book import ASK, BID, OrderBook
from sim.feed import FUNDING_PERIOD_MS, Feed
from sim.hub import Hub
from sim.instruments import Instrument, format_float, format_units, instrument_for
from sim.market import BookUpdate, Liquidation, Market, Trade
from sim.truth import Truth

BYBIT = "bybit"  # the route of Bybit connections (faults.drop_connections(route="bybit"))
DEPTHS = {50: 20, 200: 100, 1000: 200}  # linear orderbook depth -> push interval (ms)
TRADES_PER_MESSAGE = 1024
LIQUIDATION_MS = 500
TICKER_MS = 100
OI_INTERVAL_MS = 300_000  # the finest intervalTime of /v5/market/open-interest (5min)
RECENT_TRADES = 1000  # /v5/market/recent-trade serves only the last 1,000 trades
DAY_MS = 86_400_000


def crossed(t0: int, t1: int, every: int) -> bool:
    """True when a multiple of ``every`` lies in ``(t0, t1]``."""
    return t1 // every != t0 // every


def tick_direction(previous: int | None, tick: int, last: str) -> str:
    """Bybit's ``L``: the move against the previous trade's price; an equal price keeps the
    sign of the last move (ZeroPlusTick / ZeroMinusTick)."""
    if previous is None or tick > previous:
        return "PlusTick"
    if tick < previous:
        return "MinusTick"
    return "ZeroPlusTick" if last in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"


class BookTopic:
    """One ``orderbook.{depth}.{symbol}`` topic: its ``u``, the levels it last published."""

    __slots__ = ("asks", "bids", "cts", "depth", "interval", "name", "seq", "skip", "u")

    def __init__(self, symbol: str, depth: int, book: OrderBook, u: int, seq: int) -> None:
        self.name = f"orderbook.{depth}.{symbol}"
        self.depth = depth
        self.interval = DEPTHS[depth]
        self.bids = dict(book.top(BID, depth))
        self.asks = dict(book.top(ASK, depth))
        self.u = u
        self.seq = seq  # the market's update id when the published levels were cut
        self.cts = 0  # the matching-engine time of that update
        self.skip = 0  # deltas to withhold (fault: a gap in u)

    def cut(self, book: OrderBook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Take the top N levels now; return what changed since the last cut (0 = removed),
        bids best first, asks best first."""
        changes: list[list[tuple[int, int]]] = []
        for side, old in ((BID, self.bids), (ASK, self.asks)):
            new = dict(book.top(side, self.depth))
            diff = [(t, q) for t, q in new.items() if old.get(t) != q]
            diff += [(t, 0) for t in old if t not in new]
            diff.sort(reverse=side == BID)
            changes.append(diff)
            if side == BID:
                self.bids = new
            else:
                self.asks = new
        return changes[0], changes[1]

    def reload(self, book: OrderBook) -> None:
        self.bids = dict(book.top(BID, self.depth))
        self.asks = dict(book.top(ASK, self.depth))


class BybitTruth(Truth):
    """Ground truth of the Bybit side: the full book per symbol (``book_at(symbol, seq)``) and
    every message produced, withheld ones included (``"skipped": True``)."""

    def __init__(self) -> None:
        super().__init__()
        self.trades: dict[str, list[dict[str, Any]]] = {}
        self.orderbook: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.liquidations: dict[str, list[dict[str, Any]]] = {}
        self.tickers: dict[str, list[dict[str, Any]]] = {}

    def summary(self) -> dict[str, Any]:
        return {
            "trades": {s: len(v) for s, v in self.trades.items()},
            "orderbook": {f"{s}@{d}": len(v) for (s, d), v in self.orderbook.items()},
            "liquidations": {s: len(v) for s, v in self.liquidations.items()},
            "book_changes": {s: len(v) for s, v in self._changes.items()},
        }


class BybitSymbol:
    """One symbol's market and everything its topics need between steps."""

    def __init__(self, market: Market, seed: int) -> None:
        self.market = market
        self.instrument: Instrument = market.instrument
        self.symbol = market.instrument.symbol
        # ids from their own random stream: the market's flow stays what the seed says
        self.ids = random.Random(f"{seed}/bybit-ids/{self.symbol}")
        book, uid = market.book, market.update_id
        self.books = {
            d: BookTopic(self.symbol, d, book, self.ids.randrange(10**6, 10**8), uid)
            for d in DEPTHS
        }
        self.trade_topic = f"publicTrade.{self.symbol}"
        self.liquidation_topic = f"allLiquidation.{self.symbol}"
        self.ticker_topic = f"tickers.{self.symbol}"
        self.trades: list[dict[str, Any]] = []  # this step's, not yet published
        self.liquidations: list[dict[str, Any]] = []  # this 500 ms window's
        self.history: deque[dict[str, Any]] = deque(maxlen=RECENT_TRADES)
        self.day: deque[tuple[int, int, int]] = deque()  # (T, lots, price×qty units) over 24 h
        self.day_lots = 0
        self.day_units = 0
        self.last_tick: int | None = None
        self.last_direction = "PlusTick"
        self.cts = 0  # time of the last book update
        self.open_interest: deque[tuple[int, int]] = deque(maxlen=20_000)  # (5-min time, lots)
        self.ticker: dict[str, str] = {}  # the fields last published

    def price(self, tick: int) -> str:
        return self.instrument.price_str(tick)

    def qty(self, lots: int) -> str:
        return self.instrument.qty_str(lots) if lots else "0"

    def levels(self, levels: list[tuple[int, int]]) -> list[list[str]]:
        return [[self.price(t), self.qty(q)] for t, q in levels]

    def trade_id(self) -> str:
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))


# ---- payloads -----------------------------------------------------------------------------------


def orderbook_message(
    topic: BookTopic, bs: BybitSymbol, kind: str, ts: int, bids: Any, asks: Any
) -> dict[str, Any]:
    return {
        "topic": topic.name,
        "type": kind,
        "ts": ts,
        "data": {
            "s": bs.symbol,
            "b": bs.levels(bids),
            "a": bs.levels(asks),
            "u": topic.u,
            "seq": topic.seq,
        },
        "cts": topic.cts,
    }


def snapshot_levels(topic: BookTopic) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    bids = sorted(topic.bids.items(), reverse=True)
    asks = sorted(topic.asks.items())
    return bids, asks


class BybitFeed:
    """Every Bybit symbol, stepped up to the Binance feed's clock after each of its steps."""

    def __init__(
        self, symbols: list[str], feed: Feed, *, seed: int, rate: float, truth: BybitTruth | None
    ) -> None:
        self.feed = feed
        self.hub = Hub(feed.faults)
        self.truth = truth
        self.now = feed.now
        self.feeds: dict[str, BybitSymbol] = {}
        self.status: dict[str, str] = {}  # symbol -> instruments-info status other than Trading
        for symbol in symbols:
            market = Market(instrument_for(symbol), seed, rate, venue=BYBIT)
            bs = self.feeds[symbol] = BybitSymbol(market, seed)
            bs.cts = self.now
            for topic in bs.books.values():
                topic.cts = self.now
            bs.ticker = self.ticker_fields(bs)
            if truth is not None:
                truth.start_book(market.instrument, market.update_id, market.book)
        feed.after_step.append(self.catch_up)

    # ---- stepping ------------------------------------------------------------------------------

    def catch_up(self) -> None:
        """Generate and publish Bybit up to the Binance clock; frames go out at once."""
        step = self.feed.step_ms
        while self.now < self.feed.now:
            t0, t1 = self.now, self.now + step
            seconds = (t0 - self.feed.start_ms) / 1000
            for bs in self.feeds.values():
                regime, instance = self.feed.script.regime(bs.symbol, seconds)
                for event in bs.market.step(t0, step, regime, instance):
                    self._dispatch(bs, event)
                self._on_boundary(bs, t0, t1)
            self.now = t1
        self.hub.flush()

    def _dispatch(self, bs: BybitSymbol, event: BookUpdate | Trade | Liquidation) -> None:
        kind = type(event)
        if kind is BookUpdate:
            uid, time, changes = event  # type: ignore[misc]
            bs.cts = time
            if self.truth is not None:
                self.truth.book_change(bs.symbol, uid, changes)
        elif kind is Trade:
            self._on_trade(bs, event)  # type: ignore[arg-type]
        else:
            self._on_liquidation(bs, event)  # type: ignore[arg-type]

    def _on_trade(self, bs: BybitSymbol, trade: Trade) -> None:
        bs.last_direction = tick_direction(bs.last_tick, trade.tick, bs.last_direction)
        bs.last_tick = trade.tick
        record = {
            "T": trade.time,
            "s": bs.symbol,
            "S": "Sell" if trade.buyer_maker else "Buy",
            "v": bs.qty(trade.lots),
            "p": bs.price(trade.tick),
            "L": bs.last_direction,
            "i": bs.trade_id(),
            "BT": False,
            "RPI": False,
            "seq": bs.market.update_id,
        }
        bs.trades.append(record)
        bs.history.append(record)
        inst = bs.instrument
        units = trade.tick * inst.tick_units * trade.lots * inst.step_units
        bs.day.append((trade.time, trade.lots, units))
        bs.day_lots += trade.lots
        bs.day_units += units
        while bs.day and trade.time - bs.day[0][0] >= DAY_MS:
            _, lots, old = bs.day.popleft()
            bs.day_lots -= lots
            bs.day_units -= old
        if self.truth is not None:
            self.truth.trades.setdefault(bs.symbol, []).append(record)

    def _on_liquidation(self, bs: BybitSymbol, liq: Liquidation) -> None:
        record = {
            "T": liq.time,
            "s": bs.symbol,
            # the simulator's side is the forced order's (SELL closes a long); Bybit names the
            # position: "Buy" = a long was liquidated
            "S": "Buy" if liq.side == "SELL" else "Sell",
            "v": bs.qty(liq.filled_lots),
            "p": bs.price(liq.limit_tick),  # the bankruptcy price the IOC swept to
        }
        bs.liquidations.append(record)
        if self.truth is not None:
            self.truth.liquidations.setdefault(bs.symbol, []).append(record)

    def _on_boundary(self, bs: BybitSymbol, t0: int, t1: int) -> None:
        self._publish_trades(bs, t1)
        for topic in bs.books.values():
            if crossed(t0, t1, topic.interval):
                self._emit_book(bs, topic, t1)
        if crossed(t0, t1, LIQUIDATION_MS) and bs.liquidations:
            batch, bs.liquidations = bs.liquidations, []
            if self.hub.wants(bs.liquidation_topic):
                self.hub.publish(
                    bs.liquidation_topic,
                    {"topic": bs.liquidation_topic, "type": "snapshot", "ts": t1, "data": batch},
                )
        if crossed(t0, t1, TICKER_MS):
            self._emit_ticker(bs, t1)
        if crossed(t0, t1, OI_INTERVAL_MS):
            bs.open_interest.append((t1 - t1 % OI_INTERVAL_MS, bs.market.open_interest))

    def _publish_trades(self, bs: BybitSymbol, t1: int) -> None:
        trades, bs.trades = bs.trades, []
        if not trades or not self.hub.wants(bs.trade_topic):
            return
        for i in range(0, len(trades), TRADES_PER_MESSAGE):
            self.hub.publish(
                bs.trade_topic,
                {
                    "topic": bs.trade_topic,
                    "type": "snapshot",
                    "ts": t1,
                    "data": trades[i : i + TRADES_PER_MESSAGE],
                },
            )

    def _emit_book(self, bs: BybitSymbol, topic: BookTopic, t1: int) -> None:
        bids, asks = topic.cut(bs.market.book)
        if not bids and not asks:
            return  # Bybit pushes a delta only when the book changed
        topic.u += 1
        topic.seq = bs.market.update_id
        topic.cts = bs.cts
        skipped = topic.skip > 0
        if skipped:
            topic.skip -= 1
        if self.truth is None and (skipped or not self.hub.wants(topic.name)):
            return
        payload = orderbook_message(topic, bs, "delta", t1, bids, asks)
        if self.truth is not None:
            events = self.truth.orderbook.setdefault((bs.symbol, topic.depth), [])
            events.append({**payload, "skipped": skipped})
        if not skipped:
            self.hub.publish(topic.name, payload)

    # ---- tickers -------------------------------------------------------------------------------

    def ticker_fields(self, bs: BybitSymbol) -> dict[str, str]:
        """Every ticker field now, as Bybit renders them (decimal strings)."""
        market, inst = bs.market, bs.instrument
        precision = inst.price_precision
        book = market.book
        bid, ask = book.best_bid(), book.best_ask()
        mark = round(market.mark, precision)
        now = self.now
        next_funding = (now // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
        oi_value = inst.qty_float(market.open_interest) * mark
        fields = {
            "symbol": bs.symbol,
            "tickDirection": bs.last_direction,
            "lastPrice": bs.price(market.last_tick),
            "markPrice": format_float(mark, precision),
            "indexPrice": format_float(market.index, precision),
            "openInterest": inst.qty_str(market.open_interest),
            "openInterestValue": format_float(oi_value, 2),
            "turnover24h": format_units(bs.day_units, precision + inst.quantity_precision),
            "volume24h": inst.qty_str(bs.day_lots),
            "nextFundingTime": str(next_funding),
            "fundingRate": format_float(market.funding_rate(), 6),
            "bid1Price": bs.price(bid) if bid is not None else "",
            "bid1Size": bs.qty(book.qty(BID, bid)) if bid is not None else "",
            "ask1Price": bs.price(ask) if ask is not None else "",
            "ask1Size": bs.qty(book.qty(ASK, ask)) if ask is not None else "",
        }
        return fields

    def _emit_ticker(self, bs: BybitSymbol, t1: int) -> None:
        fields = self.ticker_fields(bs)
        changed = {k: v for k, v in fields.items() if bs.ticker.get(k) != v}
        bs.ticker = fields
        if not changed:
            return
        payload = {
            "topic": bs.ticker_topic,
            "type": "delta",
            "data": {"symbol": bs.symbol, **changed},
            "cs": bs.market.update_id,
            "ts": t1,
        }
        if self.truth is not None:
            self.truth.tickers.setdefault(bs.symbol, []).append(payload)
        if self.hub.wants(bs.ticker_topic):
            self.hub.publish(bs.ticker_topic, payload)

    # ---- what a new subscriber gets first ------------------------------------------------------

    def snapshot(self, topic: str) -> dict[str, Any] | None:
        """The snapshot a new subscriber of ``topic`` receives (None: the topic has none)."""
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth, _, symbol = rest.partition(".")
            bs = self.feeds[symbol]
            book_topic = bs.books[int(depth)]
            bids, asks = snapshot_levels(book_topic)
            return orderbook_message(book_topic, bs, "snapshot", self.now, bids, asks)
        if kind == "tickers":
            bs = self.feeds[rest]
            return {
                "topic": topic,
                "type": "snapshot",
                "data": dict(bs.ticker),
                "cs": bs.market.update_id,
                "ts": self.now,
            }
        return None

    def topic_exists(self, topic: str) -> bool:
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth, _, symbol = rest.partition(".")
            return depth.isdigit() and int(depth) in DEPTHS and symbol in self.feeds
        return kind in ("publicTrade", "allLiquidation", "tickers") and rest in self.feeds

    # ---- faults --------------------------------------------------------------------------------

    def skip_deltas(self, symbol: str, count: int = 1, depth: int | None = None) -> None:
        """Withhold the next ``count`` orderbook deltas of ``symbol`` (one depth, or every
        depth): subscribers see ``u`` jump."""
        for topic in self.feeds[symbol.upper()].books.values():
            if depth is None or topic.depth == depth:
                topic.skip = count

    def restart(self, symbol: str, depth: int | None = None) -> None:
        """A service restart: every subscriber gets a fresh snapshot with ``u == 1`` (of one
        depth, or of every depth of ``symbol``); deltas go on from ``u == 2``."""
        bs = self.feeds[symbol.upper()]
        for topic in bs.books.values():
            if depth is not None and topic.depth != depth:
                continue
            topic.reload(bs.market.book)
            topic.u = 1
            topic.seq = bs.market.update_id
            topic.cts = bs.cts
            bids, asks = snapshot_levels(topic)
            payload = orderbook_message(topic, bs, "snapshot", self.now, bids, asks)
            if self.truth is not None:
                events = self.truth.orderbook.setdefault((bs.symbol, topic.depth), [])
                events.append({**payload, "skipped": False})
            self.hub.publish(topic.name, payload)
        self.hub.flush()

    # ---- views ---------------------------------------------------------------------------------

    def book(self, symbol: str, depth: int) -> dict[str, Any]:
        """The levels ``orderbook.{depth}.{symbol}`` last published (decimal strings, best
        first) and its ``u``: what a subscriber's book must equal."""
        bs = self.feeds[symbol]
        topic = bs.books[depth]
        bids, asks = snapshot_levels(topic)
        return {"u": topic.u, "seq": topic.seq, "b": bs.levels(bids), "a": bs.levels(asks)}
