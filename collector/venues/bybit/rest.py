"""Bybit v5 market REST within one per-IP request budget.

Bybit counts every request of an IP over any 5 s (600 at most, all endpoints together). Past it,
the answer is HTTP 403 "access too frequent" and the IP is banned: stop asking and wait at least
10 minutes. So requests are paced below ``limit * headroom`` in a rolling window, and a 403
blocks every request of the process for ``ban_wait``. A 5xx, a timeout or ``retCode`` 10006 (too
many visits) is retried with capped, jittered backoff; any other ``retCode`` is an error for the
caller (``parse.BybitApiError``). Answers are returned whole; ``parse`` reads them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from collector.venues.bybit import parse

log = logging.getLogger(__name__)

IP_LIMIT = 600
IP_WINDOW = 5.0
BAN_WAIT = 600.0
TOO_MANY_VISITS = 10006


class RestError(Exception):
    """Bybit answered with an HTTP error we do not retry, or kept failing."""


class RequestBudget:
    """The process's share of the per-IP limit; ``acquire`` waits until a request may go."""

    def __init__(
        self,
        limit: int = IP_LIMIT,
        window_s: float = IP_WINDOW,
        headroom: float = 0.8,
        ban_wait: float = BAN_WAIT,
    ) -> None:
        self.allowed = max(1, int(limit * headroom))
        self.window_s = window_s
        self.ban_wait = ban_wait
        self.sent: deque[float] = deque()  # monotonic times of the requests in the window
        self.blocked_until = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                if now < self.blocked_until:
                    await asyncio.sleep(self.blocked_until - now)
                    continue
                while self.sent and now - self.sent[0] >= self.window_s:
                    self.sent.popleft()
                if len(self.sent) < self.allowed:
                    self.sent.append(now)
                    return
                await asyncio.sleep(self.sent[0] + self.window_s - now)

    def ban(self) -> None:
        """A 403: nothing goes out for ``ban_wait`` seconds."""
        self.blocked_until = max(self.blocked_until, time.monotonic() + self.ban_wait)


class BybitRest:
    """GET requests against Bybit's REST base URL within the shared ``RequestBudget``."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        budget: RequestBudget,
        on_limit: Callable[[int, float, str], None] | None = None,
        max_attempts: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.budget = budget
        self.on_limit = on_limit  # (status, seconds blocked, path) for metrics and events
        self.max_attempts = max_attempts

    async def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """The answer's body, its envelope checked (``retCode`` 0)."""
        delay = 0.5
        for attempt in range(1, self.max_attempts + 1):
            await self.budget.acquire()
            try:
                body = await self._fetch(path, params)
            except _Retry as exc:
                log.warning("REST %s: %s (attempt %d)", path, exc, attempt)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("REST %s failed (attempt %d): %s", path, attempt, exc)
            else:
                return body
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)
        raise RestError(f"{path}: gave up after {self.max_attempts} attempts")

    async def _fetch(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        async with self.session.get(
            self.base_url + path,
            params=params,
            timeout=aiohttp.ClientTimeout(total=15),
            allow_redirects=False,
        ) as resp:
            raw = await resp.read()
            if resp.status == 403:
                self.budget.ban()
                log.warning("REST %s -> 403, no requests for %.0fs", path, self.budget.ban_wait)
                if self.on_limit is not None:
                    self.on_limit(403, self.budget.ban_wait, path)
                raise _Retry("403 access too frequent")
            if resp.status >= 500:
                raise _Retry(f"HTTP {resp.status}")
            if resp.status != 200:
                raise RestError(f"{path}: HTTP {resp.status}: {raw[:200]!r}")
        body = orjson.loads(raw)
        try:
            parse.rest_result(body)
        except parse.BybitApiError as exc:
            if exc.code == TOO_MANY_VISITS:
                raise _Retry(str(exc)) from exc
            raise
        return body

    # ---- endpoints -----------------------------------------------------------------------------

    async def instruments(self, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every linear instrument, all pages."""
        entries: list[dict[str, Any]] = []
        cursor = ""
        while True:
            params: dict[str, Any] = {"category": "linear", "limit": page_size}
            if cursor:
                params["cursor"] = cursor
            body = await self.get("/v5/market/instruments-info", params)
            page, cursor = parse.page(parse.rest_result(body))
            entries += page
            if not cursor:
                return entries

    async def tickers(self) -> dict[str, Any]:
        return await self.get("/v5/market/tickers", {"category": "linear"})

    async def recent_trades(self, symbol: str, limit: int = 1000) -> dict[str, Any]:
        params = {"category": "linear", "symbol": symbol, "limit": limit}
        return await self.get("/v5/market/recent-trade", params)

    async def orderbook(self, symbol: str, limit: int = 500) -> dict[str, Any]:
        params = {"category": "linear", "symbol": symbol, "limit": limit}
        return await self.get("/v5/market/orderbook", params)

    async def open_interest(
        self, symbol: str, interval: str = "5min", limit: int = 200, cursor: str = ""
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "category": "linear",
            "symbol": symbol,
            "intervalTime": interval,
            "limit": limit,
        }
        if cursor:
            params["cursor"] = cursor
        return await self.get("/v5/market/open-interest", params)


class _Retry(Exception):
    """An answer worth asking again for (after the budget and a backoff allow)."""
