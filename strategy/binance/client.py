"""A signed REST client for Binance USDⓈ-M futures over aiohttp.

Signing (reference §D.2): every parameter goes in the query string, ``timestamp`` (local clock +
the offset measured with ``/fapi/v1/time``) and ``recvWindow`` are added, and
``signature = hex(HMAC_SHA256(secret, query))`` comes last. A -1021 (timestamp outside the window)
re-syncs the offset and retries once: the request was rejected, so re-sending it cannot double
anything. The client reads ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-10S``/``-1M`` and waits
before it would cross 90 % of a limit. Errors become the exceptions of errors.py; 5xx, timeouts and
lost connections are ``StatusUnknown`` and are never retried here.

Neither the key nor the secret nor a signed query string is ever logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from strategy.binance.errors import BinanceError, ClockSkewError, StatusUnknown, classify

log = logging.getLogger(__name__)

WEIGHT_LIMIT = 2400  # per minute per IP (reference §C.1; exchangeInfo has the live value)
ORDER_LIMIT_10S = 300
SAFETY = 0.9


class BinanceClient:
    def __init__(
        self,
        rest_url: str,
        api_key: str,
        api_secret: str,
        *,
        recv_window: int = 5000,
        timeout: float = 10.0,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self._key = api_key
        self._secret = api_secret.encode()
        self.recv_window = recv_window
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.offset_ms = 0  # server clock - local clock
        self.weight_used = 0
        self.orders_10s = 0
        self._seen_at = 0.0  # when the counters above were read
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never show the key material
        return f"BinanceClient({self.rest_url!r})"

    async def __aenter__(self) -> BinanceClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        await self.sync_time()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def sync_time(self) -> None:
        before = time.time()
        body = await self.request("GET", "/fapi/v1/time", security="NONE")
        local = (before + time.time()) / 2 * 1000
        self.offset_ms = int(body["serverTime"] - local)
        log.info("binance clock offset %+d ms", self.offset_ms)

    # ---- the one request path ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        security: str = "SIGNED",
        order: bool = False,
    ) -> Any:
        """``security``: NONE (market data), KEY (listen keys: API key only) or SIGNED."""
        try:
            return await self._send(method, path, params, security, order)
        except ClockSkewError:
            if security != "SIGNED":
                raise
            log.warning("binance: -1021 on %s %s, re-syncing the clock", method, path)
            await self.sync_time()
        try:
            return await self._send(method, path, params, security, order)
        except ClockSkewError as exc:
            raise ClockSkewError(
                exc.code,
                f"{exc.msg} (still after re-syncing with /fapi/v1/time, offset "
                f"{self.offset_ms:+d} ms): check this host's clock and recvWindow",
                exc.status,
            ) from None

    async def _send(
        self, method: str, path: str, params: dict[str, Any] | None, security: str, order: bool
    ) -> Any:
        await self._pace(order)
        query = urlencode({k: _text(v) for k, v in (params or {}).items() if v is not None})
        headers = {}
        if security in ("KEY", "SIGNED"):
            headers["X-MBX-APIKEY"] = self._key
        if security == "SIGNED":
            stamp = f"recvWindow={self.recv_window}&timestamp={self._now_ms()}"
            query = f"{query}&{stamp}" if query else stamp
            signature = hmac.new(self._secret, query.encode(), hashlib.sha256).hexdigest()
            query = f"{query}&signature={signature}"
        url = f"{self.rest_url}{path}" + (f"?{query}" if query else "")
        if self._session is None:
            raise RuntimeError("BinanceClient.start() was not called")
        try:
            async with self._session.request(method, url, headers=headers) as response:
                self._read_counters(response.headers)
                raw = await response.read()
                status = response.status
                retry_after = float(response.headers.get("Retry-After", 0) or 0)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise StatusUnknown(-1007, f"{type(exc).__name__} on {method} {path}", 0) from exc
        body = _decode(raw)
        if status == 200:
            return body
        code = body.get("code", 0) if isinstance(body, dict) else 0
        msg = body.get("msg", raw[:200].decode(errors="replace")) if isinstance(body, dict) else ""
        error = classify(int(code), str(msg), status, retry_after)
        log.info("binance %s %s -> HTTP %d code %s: %s", method, path, status, code, msg)
        raise error

    def _now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def _read_counters(self, headers: Any) -> None:
        self._seen_at = time.time()
        if "X-MBX-USED-WEIGHT-1M" in headers:
            self.weight_used = int(headers["X-MBX-USED-WEIGHT-1M"])
        if "X-MBX-ORDER-COUNT-10S" in headers:
            self.orders_10s = int(headers["X-MBX-ORDER-COUNT-10S"])

    async def _pace(self, order: bool) -> None:
        """Wait out the current window when the last answer said we are near a limit."""
        now = time.time()
        if self.weight_used >= WEIGHT_LIMIT * SAFETY and now // 60 == self._seen_at // 60:
            wait = 60 - now % 60
            log.warning("binance: request weight %d used, waiting %.1fs", self.weight_used, wait)
            await asyncio.sleep(wait)
        if order and self.orders_10s >= ORDER_LIMIT_10S * SAFETY and now - self._seen_at < 10:
            log.warning("binance: %d orders in 10 s, waiting", self.orders_10s)
            await asyncio.sleep(10 - (now - self._seen_at))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}


__all__ = ["BinanceClient", "BinanceError"]
