"""Blast mode: pre-serialised aggTrade, diff-depth and bookTicker frames, as fast as clients read.

For load tests of a client (the recorder's benchmark), where the simulator must never be the
bottleneck. The prices, sizes and level updates come from a short run of the real market, turned
into byte templates; each frame then only gets fresh numbers: aggTrade ids and trade ids stay
consecutive, depth events chain ``pu`` = previous ``u``, bookTicker ``u`` follows the depth ids,
times advance with simulated time. The book itself is not maintained: REST depth answers with
``lastUpdateId`` = the last ``u`` sent (so a client's first event chains with ``pu == L``), but
its levels are the real market's start book, not the sum of the blasted diffs.
"""

from __future__ import annotations

from itertools import cycle
from typing import Any

import orjson

from sim.feed import Feed
from sim.hub import Hub
from sim.market import BookUpdate, Trade
from sim.streams import UM

SAMPLE_STEPS = 400  # 20 s of the real market at 50 ms steps feeds the templates
SAMPLE_RATE = 150.0  # book events/s while sampling: depth diffs of a realistic size


class _SymbolBlast:
    """Templates and counters of one symbol."""

    def __init__(self, feed: Feed, symbol: str) -> None:
        sf = feed.feeds[symbol]
        self.symbol = symbol
        low = symbol.lower()
        self.names = (f"{low}@aggTrade", f"{low}@depth@100ms", f"{low}@bookTicker")
        s = symbol.encode()
        self.trade = (
            b'{"e":"aggTrade","E":%d,"s":"' + s + b'","a":%d,"p":"%s","q":"%s",'
            b'"nq":"%s","f":%d,"l":%d,"T":%d,"m":%s,"st":' + b"%d}" % UM
        )
        self.depth = (
            b'{"e":"depthUpdate","E":%d,"T":%d,"s":"' + s + b'","U":%d,"u":%d,'
            b'"pu":%d,"b":%s,"a":%s,"ps":"' + s + b'","st":' + b"%d}" % UM
        )
        self.ticker = (
            b'{"e":"bookTicker","u":%d,"E":%d,"T":%d,"s":"' + s + b'","b":"%s",'
            b'"B":"%s","a":"%s","A":"%s","ps":"' + s + b'","st":' + b"%d}" % UM
        )
        self.agg_id = sf.market.agg_id
        self.trade_id = sf.market.trade_id
        self.update_id = sf.market.update_id
        self.trades: Any = None
        self.diffs: Any = None
        self.tops: Any = None

    def sample(self, feed: Feed) -> None:
        """Run the real market briefly and keep what its frames contain, as bytes."""
        sf = feed.feeds[self.symbol]
        market, inst = sf.market, sf.instrument
        trades: list[tuple[bytes, bytes, bytes]] = []
        diffs: list[tuple[bytes, bytes, int]] = []
        tops: list[tuple[bytes, bytes, bytes, bytes]] = []
        t = feed.now
        rate, market.rate = market.rate, SAMPLE_RATE
        for _ in range(SAMPLE_STEPS):
            changed: dict[tuple[str, int], int] = {}
            updates = 0
            for event in market.step(t, 50):
                if type(event) is Trade:
                    trades.append(
                        (
                            inst.price_str(event.tick).encode(),
                            inst.qty_str(event.lots).encode(),
                            b"true" if event.buyer_maker else b"false",
                        )
                    )
                elif type(event) is BookUpdate:
                    updates += 1
                    for side, tick, lots in event.changes:
                        changed[side, tick] = lots
            if changed:
                diffs.append(self._diff(changed, inst, updates))
            bid, ask = market.book.best_bid(), market.book.best_ask()
            if bid is not None and ask is not None:
                tops.append(
                    (
                        inst.price_str(bid).encode(),
                        inst.qty_str(market.book.bids[bid]).encode(),
                        inst.price_str(ask).encode(),
                        inst.qty_str(market.book.asks[ask]).encode(),
                    )
                )
            t += 50
        market.rate = rate
        self.trades = cycle(trades or [(b"1.0", b"1", b"true")])
        self.diffs = cycle(diffs)
        self.tops = cycle(tops)

    @staticmethod
    def _diff(
        changed: dict[tuple[str, int], int], inst: Any, updates: int
    ) -> tuple[bytes, bytes, int]:
        bids = [
            [inst.price_str(t), inst.qty_str(q)]
            for (s, t), q in sorted(changed.items())
            if s == "b"
        ]
        asks = [
            [inst.price_str(t), inst.qty_str(q)]
            for (s, t), q in sorted(changed.items())
            if s == "a"
        ]
        return orjson.dumps(bids[::-1]), orjson.dumps(asks), max(1, updates)


class Blast:
    """A pacer source: every step, ``per_step`` frames on each blasted stream of each symbol."""

    def __init__(self, feed: Feed, hub: Hub, per_step: int) -> None:
        self.feed = feed
        self.hub = hub
        self.per_step = max(1, per_step)
        self.step_ms = feed.step_ms
        self.now = feed.now
        self.symbols = [_SymbolBlast(feed, s) for s in feed.symbols]
        for blast in self.symbols:
            blast.sample(feed)

    def step(self) -> None:
        t = self.now
        publish = self.hub.publish_raw
        wants = self.hub.wants
        n = self.per_step
        for b in self.symbols:
            trade_name, depth_name, ticker_name = b.names
            if wants(trade_name):
                for _ in range(n):
                    price, qty, maker = next(b.trades)
                    b.agg_id += 1
                    first = b.trade_id + 1
                    b.trade_id += 1
                    publish(
                        trade_name,
                        b.trade % (t + 1, b.agg_id, price, qty, qty, first, b.trade_id, t, maker),
                    )
            for _ in range(n):
                bids, asks, updates = next(b.diffs)
                prev = b.update_id
                b.update_id += updates
                if wants(depth_name):
                    publish(depth_name, b.depth % (t, t, prev + 1, b.update_id, prev, bids, asks))
                if wants(ticker_name):
                    bp, bq, ap, aq = next(b.tops)
                    publish(ticker_name, b.ticker % (b.update_id, t + 1, t, bp, bq, ap, aq))
            # REST keeps answering in step: time, and a depth lastUpdateId the stream chains onto.
            self.feed.feeds[b.symbol].market.update_id = b.update_id
        self.now = t + self.step_ms
        self.feed.now = self.now
