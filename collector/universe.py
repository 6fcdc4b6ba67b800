"""``SYMBOLS=top:N``: the N trading USDT perpetuals with the highest 24 h quote volume, chosen at
start and re-evaluated every ``UNIVERSE_REFRESH`` seconds: an added symbol gets its streams, book,
trade-id sequence and open-interest polls; a removed one loses them (its rows stop). With
MARKETS=futures,spot the spot side follows (``on_change``) for the symbols listed on spot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from collector.depth import DepthKeeper
from collector.events import EventLog
from collector.handler import FrameHandler
from collector.subscriptions import Subscriptions
from collector.venues import BINANCE
from collector.venues.binance import streams
from collector.venues.binance.rest import BinanceRest, RestError
from collector.venues.binance.sequence import TradeSequence

log = logging.getLogger(__name__)


class Universe:
    """Re-evaluates top:N every ``refresh`` seconds and applies the difference live."""

    def __init__(
        self,
        n: int,
        refresh: float,
        rest: BinanceRest,
        symbols: list[str],
        subscriptions: Subscriptions,
        handler: FrameHandler,
        keeper: DepthKeeper,
        events: EventLog,
        depth_speed: str,
        on_change: Callable[[list[str], list[str]], None] | None = None,
    ) -> None:
        self.n = n
        self.refresh = refresh
        self.rest = rest
        self.symbols = symbols  # shared with the recorder, its /health and the OI poller
        self.subscriptions = subscriptions
        self.handler = handler
        self.keeper = keeper
        self.events = events
        self.depth_speed = depth_speed
        self.on_change = on_change  # (added, removed): the spot side follows

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            try:
                top = await BINANCE.top_symbols(self.rest, self.n)
            except RestError as exc:
                log.warning("top %d universe not re-evaluated: %s", self.n, exc)
                continue
            if top:  # an empty ranking is a broken answer, not an empty market
                self.apply(top)

    def apply(self, top: list[str]) -> None:
        added = [s for s in top if s not in self.symbols]
        removed = [s for s in self.symbols if s not in top]
        if not added and not removed:
            return
        follow(
            self.symbols,
            self.handler,
            self.keeper,
            self.subscriptions,
            self._streams,
            added,
            removed,
        )
        if self.on_change is not None:
            self.on_change(added, removed)
        self.events.record("universe", {"added": added, "removed": removed, "symbols": top})
        log.info("top %d universe: added %s, removed %s", self.n, added, removed)

    def _streams(self, symbols: list[str]) -> list[streams.Stream]:
        return symbol_streams(symbols, self.depth_speed)


def symbol_streams(symbols: list[str], depth_speed: str) -> list[streams.Stream]:
    """The per-symbol futures streams of these symbols (not the market-wide ones)."""
    return [s for s in streams.futures_streams(symbols, depth_speed) if s.symbol]


def follow(
    symbols: list[str],
    handler: FrameHandler,
    keeper: DepthKeeper,
    subscriptions: Subscriptions,
    streams_of: Callable[[list[str]], list[streams.Stream]],
    added: list[str],
    removed: list[str],
) -> None:
    """Apply a universe change to one market's symbols, handler, books and connections."""
    for symbol in added:  # before subscribing, so its first frames are kept
        symbols.append(symbol)
        _fresh_sequence(handler, symbol)
        handler.symbols.add(symbol)
        keeper.add(symbol)
    subscriptions.change(streams_of(added), streams_of(removed))
    for symbol in removed:  # its sequence stays for a backfill that may still be pending
        symbols.remove(symbol)
        handler.symbols.discard(symbol)
        keeper.remove(symbol)


def _fresh_sequence(handler: FrameHandler, symbol: str) -> None:
    """Ids restart from the first one received: the time away is not a hole. Holes of an
    earlier stint stay, so a backfill still pending for them finds what it must fetch."""
    seq = TradeSequence()
    old = handler.trades.get(symbol)
    if old is not None:
        seq.holes = old.holes
    handler.trades[symbol] = seq
