"""Stale market data: flatten a symbol whose recorded streams went silent, until it is flat.

Staleness is judged from what the recorder writes for each symbol, not from trades: a symbol is
stale when its mark price or its depth diffs (continuous streams, one on each of the recorder's
two connections) have not reached the database for ``limit`` seconds. A quiet symbol keeps both
alive and is never flattened for want of trades.

A close that fails (exchange unreachable, database down) is tried again with a capped exponential
backoff until the symbol is flat. While the database is down nothing can be judged: positions stay
protected by their stops on the exchange, which the user-data stream keeps watching; once reads
work again the recorder gets ``limit`` seconds to replay what it spooled before anything is judged,
and ``on_db_back`` runs (the executor reconciles what it could not store meanwhile; also after
``reconcile_owed`` is set, e.g. when a user-data reconnect could not reconcile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from strategy.binance.errors import BinanceError

log = logging.getLogger(__name__)

FAILURES = (BinanceError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class StaleWatchdog:
    def __init__(
        self,
        stream_age: Callable[[str], Awaitable[float | None]],
        open_symbols: Callable[[], set[str]],
        flatten: Callable[[str, str], Awaitable[None]],
        limit: float,
        interval: float,
        on_db_back: Callable[[], Awaitable[None]] | None = None,
        retry_initial: float = 1.0,
        retry_max: float = 30.0,
    ) -> None:
        self.stream_age = stream_age
        self.open_symbols = open_symbols
        self.flatten = flatten
        self.limit = limit
        self.interval = interval
        self.on_db_back = on_db_back
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.db_down_since: float | None = None
        self.reconcile_owed = False  # the state could not be stored or reconciled: redo it
        self._judge_after = 0.0  # monotonic: no judgment before (grace after a database outage)
        # symbol -> (reason, failed tries, next try); a close the exchange accepted stays here
        # (and in _accepted) until the user-data stream shows the symbol flat (tried again if not)
        self._closing: dict[str, tuple[str, int, float]] = {}
        self._accepted: set[str] = set()
        self.flattened: list[str] = []  # symbols whose stale-data close was accepted, in order

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()

    async def check(self) -> None:
        """One round: reconcile if owed, judge the open symbols, (re)try the closes due."""
        if self.reconcile_owed and self.on_db_back is not None:
            try:
                await self.on_db_back()
            except FAILURES as exc:
                self._db_failed(exc)
            else:
                self._db_ok()
                self.reconcile_owed = False
        open_now = self.open_symbols()
        for symbol in list(self._closing):
            if symbol not in open_now:
                del self._closing[symbol]  # flat (closed by us, its stop, or a person)
                self._accepted.discard(symbol)
        for symbol in sorted(open_now - set(self._closing)):
            reason = await self._judge(symbol)
            if reason is None:
                continue
            log.error("STALE MARKET DATA for %s (%s, limit %.0fs): FLATTENING %s",
                      symbol, reason, self.limit, symbol)  # fmt: skip
            self._closing[symbol] = (f"stale market data: {reason}", 0, 0.0)
        for symbol in sorted(self._closing):
            await self._try_close(symbol)

    async def _judge(self, symbol: str) -> str | None:
        """Why ``symbol`` is stale, or None (fresh, or nothing can be judged now)."""
        try:
            age = await self.stream_age(symbol)
        except FAILURES as exc:
            self._db_failed(exc)
            return None
        self._db_ok()
        if time.monotonic() < self._judge_after or (age is not None and age <= self.limit):
            return None
        return "no mark price or depth recorded" if age is None else f"streams silent {age:.1f}s"

    def _db_failed(self, exc: BaseException) -> None:
        if self.db_down_since is None:
            self.db_down_since = time.monotonic()
            log.error("stale-data watchdog: database unreachable (%s); positions stay "
                      "protected by their exchange stops", exc)  # fmt: skip

    def _db_ok(self) -> None:
        if self.db_down_since is None:
            return
        down = time.monotonic() - self.db_down_since
        self.db_down_since = None
        self._judge_after = time.monotonic() + self.limit  # let the recorder replay its spool
        self.reconcile_owed = True  # what could not be stored meanwhile: next round
        log.warning("stale-data watchdog: database back after %.0fs; reconciling", down)

    async def _try_close(self, symbol: str) -> None:
        reason, tries, due = self._closing[symbol]
        if time.monotonic() < due:
            return
        try:
            await self.flatten(symbol, reason)
        except FAILURES as exc:
            delay = min(self.retry_max, self.retry_initial * 2**tries)
            self._closing[symbol] = (reason, tries + 1, time.monotonic() + delay)
            log.error("closing %s failed (attempt %d: %s); retrying in %.1fs",
                      symbol, tries + 1, exc, delay)  # fmt: skip
            return
        if symbol not in self._accepted:  # the first close the exchange took in this episode
            self._accepted.add(symbol)
            self.flattened.append(symbol)
        if symbol in self.open_symbols():  # the stream has not shown it flat yet: look again
            self._closing[symbol] = (reason, tries, time.monotonic() + self.retry_initial)
        else:
            del self._closing[symbol]
            self._accepted.discard(symbol)
