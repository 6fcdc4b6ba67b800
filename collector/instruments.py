"""The exchange's description of its instruments (exchangeInfo) kept in the `symbols` table:
read at start, before the streams, and again every UNIVERSE_REFRESH. The strategy sizes and
rounds with the lot step and tick stored there, so a live worker and a backtest agree."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from collector.venues.binance import parse
from db.connect import connect
from db.instruments import store_instruments

log = logging.getLogger(__name__)
RETRY_AFTER_FAILURE = 60.0  # seconds: a failed read or write is tried again this soon


class InfoSource(Protocol):
    async def exchange_info(self) -> Any: ...


async def describe(
    sources: Sequence[tuple[str, InfoSource]], database_url: str, now: dt.datetime
) -> bool:
    """Read each market's exchangeInfo and store it; False when any of it failed."""
    ok = True
    for market, rest in sources:
        try:
            rows = parse.instruments(await rest.exchange_info(), market)
            conn = await connect(database_url)
            try:
                await store_instruments(conn, rows, now)
            finally:
                await conn.close()
        except Exception as exc:  # REST or database unavailable: the next round tries again
            log.warning("exchangeInfo (%s) not stored: %s", market, exc)
            ok = False
    return ok


async def keep_described(
    sources: Sequence[tuple[str, InfoSource]],
    database_url: str,
    clock: Callable[[], dt.datetime],
    every: float,
    first: float,
) -> None:
    """Refresh the `symbols` table every `every` seconds, first after `first` seconds (sooner
    after a failure)."""
    await asyncio.sleep(first)
    while True:
        ok = await describe(sources, database_url, clock())
        await asyncio.sleep(every if ok else min(every, RETRY_AFTER_FAILURE))
