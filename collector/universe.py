"""``SYMBOLS=top:N``: the N trading USDT perpetuals with the highest 24 h quote volume, chosen at
start and re-evaluated every ``UNIVERSE_REFRESH`` seconds: an added symbol gets its streams, book,
trade-id sequence and open-interest polls; a removed one loses them (its rows stop)."""

from __future__ import annotations

import asyncio
import logging

from collector import streams
from collector.depth import DepthKeeper
from collector.events import EventLog
from collector.handler import FrameHandler
from collector.rest import BinanceRest, RestError
from collector.sequence import TradeSequence
from collector.subscriptions import Subscriptions

log = logging.getLogger(__name__)


async def top_symbols(rest: BinanceRest, n: int) -> list[str]:
    info = await rest.exchange_info()
    eligible = {
        s["symbol"]
        for s in info["symbols"]
        if s.get("contractType") == "PERPETUAL"
        and s.get("quoteAsset") == "USDT"
        and s.get("status") == "TRADING"
    }
    tickers = await rest.tickers_24h()
    ranked = sorted(
        (t for t in tickers if t["symbol"] in eligible),
        key=lambda t: float(t["quoteVolume"]),
        reverse=True,
    )
    return [t["symbol"] for t in ranked[:n]]


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

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            try:
                top = await top_symbols(self.rest, self.n)
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
        for symbol in added:  # before subscribing, so its first frames are kept
            self.symbols.append(symbol)
            self._fresh_sequence(symbol)
            self.handler.symbols.add(symbol)
            self.keeper.add(symbol)
        self.subscriptions.change(self._streams(added), self._streams(removed))
        for symbol in removed:  # its sequence stays for a backfill that may still be pending
            self.symbols.remove(symbol)
            self.handler.symbols.discard(symbol)
            self.keeper.remove(symbol)
        self.events.record("universe", {"added": added, "removed": removed, "symbols": top})
        log.info("top %d universe: added %s, removed %s", self.n, added, removed)

    def _fresh_sequence(self, symbol: str) -> None:
        """Ids restart from the first one received: the time away is not a hole. Holes of an
        earlier stint stay, so a backfill still pending for them finds what it must fetch."""
        seq = TradeSequence()
        old = self.handler.trades.get(symbol)
        if old is not None:
            seq.holes = old.holes
        self.handler.trades[symbol] = seq

    def _streams(self, symbols: list[str]) -> list[streams.Stream]:
        return [s for s in streams.futures_streams(symbols, self.depth_speed) if s.symbol]
