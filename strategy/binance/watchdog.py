"""Stale market data: a symbol whose recorded data goes stale is flattened."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from strategy.binance.store import Store

log = logging.getLogger(__name__)


class StaleWatchdog:
    def __init__(
        self,
        store: Store,
        open_symbols: Callable[[], set[str]],
        flatten: Callable[[str, str], Awaitable[None]],
        limit: float,
        interval: float,
    ) -> None:
        self.store = store
        self.open_symbols = open_symbols
        self.flatten = flatten
        self.limit = limit
        self.interval = interval

    async def run(self) -> None:
        limit = self.limit
        while True:
            await asyncio.sleep(self.interval)
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
                await self.flatten(symbol, f"stale market data: {shown}")
