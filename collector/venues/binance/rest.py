"""Binance REST market data with one request-weight budget for the whole process.

Binance counts weight per IP per minute (2,400 by default) and reports the running total in
``X-MBX-USED-WEIGHT-1M``. We pace requests below ``limit * headroom``, wait ``Retry-After`` on a
429, and on a 418 (banned for continuing after 429s) stop asking entirely until the ban ends.
5xx answers and timeouts are retried with capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)


class RestError(Exception):
    """Binance answered with an error we do not retry (4xx other than 429/418)."""

    def __init__(self, status: int, code: int | None, msg: str) -> None:
        super().__init__(f"HTTP {status} code={code}: {msg}")
        self.status, self.code, self.msg = status, code, msg


class WeightBudget:
    """The shared per-minute weight budget; ``acquire`` waits until a request may go."""

    def __init__(self, limit: int = 2400, headroom: float = 0.8) -> None:
        self.limit = limit
        self.headroom = headroom
        self.used = 0  # last X-MBX-USED-WEIGHT-1M seen, plus what we sent since
        self.window = self._minute()
        self.blocked_until = 0.0  # monotonic; set by 429 and 418 (ban) answers
        self.lock = asyncio.Lock()

    @staticmethod
    def _minute() -> int:
        return int(time.time() // 60)

    async def acquire(self, weight: int) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                if now < self.blocked_until:
                    await asyncio.sleep(self.blocked_until - now)
                    continue
                if self._minute() != self.window:
                    self.window, self.used = self._minute(), 0
                if self.used + weight <= self.limit * self.headroom:
                    self.used += weight
                    return
                await asyncio.sleep(60 - time.time() % 60 + 0.05)

    def observe(self, used: str | None) -> None:
        if used is not None and used.isdigit():
            self.window, self.used = self._minute(), int(used)

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)


class BinanceRest:
    """GET requests against BINANCE_REST_URL within the shared ``WeightBudget``."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        budget: WeightBudget,
        on_limit: Callable[[int, float, str], None] | None = None,
        max_attempts: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.budget = budget
        self.on_limit = on_limit  # (status, retry_after, path) for metrics and events
        self.max_attempts = max_attempts

    async def get(self, path: str, params: dict[str, Any], weight: int) -> Any:
        delay = 0.5
        for attempt in range(1, self.max_attempts + 1):
            await self.budget.acquire(weight)
            try:
                async with self.session.get(
                    self.base_url + path,
                    params=params,
                    timeout=aiohttp.ClientTimeout(total=15),
                    allow_redirects=False,  # a 3xx is an error (RestError), never followed
                ) as resp:
                    body = await resp.read()
                    self.budget.observe(resp.headers.get("X-MBX-USED-WEIGHT-1M"))
                    if resp.status == 200:
                        return orjson.loads(body)
                    if resp.status in (418, 429):
                        retry_after = _retry_after(resp.headers.get("Retry-After"), resp.status)
                        self.budget.block(retry_after)
                        log.warning("REST %s -> %s, waiting %.0fs", path, resp.status, retry_after)
                        if self.on_limit is not None:
                            self.on_limit(resp.status, retry_after, path)
                        continue
                    if resp.status < 500:
                        code, msg = _error(body)
                        raise RestError(resp.status, code, msg)
                    log.warning("REST %s -> %s (attempt %d)", path, resp.status, attempt)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("REST %s failed (attempt %d): %s", path, attempt, exc)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)
        raise RestError(0, None, f"{path}: gave up after {self.max_attempts} attempts")

    async def depth(self, symbol: str, limit: int = 1000) -> Any:
        return await self.get(
            "/fapi/v1/depth", {"symbol": symbol, "limit": limit}, depth_weight(limit)
        )

    async def open_interest(self, symbol: str) -> Any:
        return await self.get("/fapi/v1/openInterest", {"symbol": symbol}, 1)

    async def agg_trades(self, symbol: str, from_id: int, limit: int = 1000) -> Any:
        return await self.get(
            "/fapi/v1/aggTrades", {"symbol": symbol, "fromId": from_id, "limit": limit}, 20
        )

    async def newest_agg_trades(self, symbol: str, limit: int = 1) -> Any:
        """The most recent aggTrades (no fromId)."""
        return await self.get("/fapi/v1/aggTrades", {"symbol": symbol, "limit": limit}, 20)

    async def exchange_info(self) -> Any:
        return await self.get("/fapi/v1/exchangeInfo", {}, 1)

    async def tickers_24h(self) -> Any:
        return await self.get("/fapi/v1/ticker/24hr", {}, 40)


# Weight 50 of spot's 6,000 a minute; Binance's spot guide suggests 5,000 levels (weight 250),
# five times the cost for levels far beyond the BOOK_TOP_LEVELS we keep.
SPOT_SNAPSHOT_LIMIT = 1000
SPOT_WEIGHT_LIMIT = 6000  # spot's REQUEST_WEIGHT per minute per IP, counted apart from futures'


class SpotRest(BinanceRest):
    """Spot's ``/api/v3`` market data (BINANCE_SPOT_REST_URL) within spot's own budget. Spot's
    aggTrades by ``fromId`` have no 48 h window: old holes stay recoverable."""

    async def depth(self, symbol: str, limit: int = 1000) -> Any:
        return await self.get(
            "/api/v3/depth", {"symbol": symbol, "limit": limit}, spot_depth_weight(limit)
        )

    async def agg_trades(self, symbol: str, from_id: int, limit: int = 1000) -> Any:
        return await self.get(
            "/api/v3/aggTrades", {"symbol": symbol, "fromId": from_id, "limit": limit}, 4
        )

    async def newest_agg_trades(self, symbol: str, limit: int = 1) -> Any:
        return await self.get("/api/v3/aggTrades", {"symbol": symbol, "limit": limit}, 4)

    async def exchange_info(self) -> Any:
        return await self.get("/api/v3/exchangeInfo", {}, 20)


def spot_depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    return 50 if limit <= 1000 else 250


def depth_weight(limit: int) -> int:
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


def _retry_after(value: str | None, status: int) -> float:
    try:
        return max(1.0, float(value)) if value else (120.0 if status == 418 else 60.0)
    except ValueError:
        return 60.0


def _error(body: bytes) -> tuple[int | None, str]:
    try:
        d = orjson.loads(body)
        return d.get("code"), str(d.get("msg"))
    except (orjson.JSONDecodeError, AttributeError):
        return None, body[:200].decode(errors="replace")
