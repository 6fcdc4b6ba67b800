"""A signed REST client for Binance USDⓈ-M futures over aiohttp.

Signing (reference §D.2): every parameter goes in the query string, ``timestamp`` (local clock +
the offset measured with ``/fapi/v1/time``) and ``recvWindow`` are added, and
``signature = hex(HMAC_SHA256(secret, query))`` comes last. A -1021 (timestamp outside the window)
re-syncs the offset and retries once: the request was rejected, so re-sending it cannot double
anything. The client reads ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-10S``/``-1M`` and waits
before it would cross 90 % of a limit. Errors become the exceptions of errors.py; 5xx, timeouts and
lost connections are ``StatusUnknown`` and are never retried here; when no answer came at all,
``ConnectionFailed`` says what failed (DNS, refused, TLS, timeout) and where.

Redirects are never followed: a 3xx is an error, since following it would re-send the API key
and a replayable signed query to whatever host the answer names. Neither the key nor the secret
nor a signed query string is ever logged; exchange error text is truncated and escaped.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson

from logsafe import printable
from strategy.binance.errors import BinanceError, ClockSkewError, StatusUnknown, classify

log = logging.getLogger(__name__)

WEIGHT_LIMIT = 2400  # per minute per IP (reference §C.1; exchangeInfo has the live value)
ORDER_LIMIT_10S = 300
SAFETY = 0.9


class ConnectionFailed(StatusUnknown):
    """No HTTP answer at all: the message says what failed and where, not an exchange code.

    Still a ``StatusUnknown`` (code -1007): after a timeout or a cut connection an order may
    exist, so callers keep querying it by client id before doing anything else."""

    def __str__(self) -> str:
        return self.msg


class BinanceClient:
    def __init__(
        self,
        rest_url: str,
        api_key: str,
        api_secret: str,
        *,
        recv_window: int = 5000,
        timeout: float = 10.0,
        time_path: str = "/fapi/v1/time",  # spot: /api/v3/time
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.time_path = time_path
        parts = urlsplit(self.rest_url)
        self._where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
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
        body = await self.request("GET", self.time_path, security="NONE")
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
                f"{exc.msg} (still after re-syncing with {self.time_path}, offset "
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
            async with self._session.request(
                method, url, headers=headers, allow_redirects=False
            ) as response:
                self._read_counters(response.headers)
                raw = await response.read()
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After"))
                location = response.headers.get("Location", "")
        except (TimeoutError, aiohttp.ClientError) as exc:
            # from None: aiohttp's own text may quote the whole URL, signed query included
            what = f"{_failure(exc)} on {method} {path}"
            raise ConnectionFailed(-1007, f"cannot reach {self._where}: {what}", 0) from None
        body = _decode(raw)
        if status == 200:
            return body
        if 300 <= status < 400:
            target = urlsplit(location).hostname or "the same host"
            msg = f"redirect to {printable(target, 80)} refused (the key is not sent on)"
            log.warning("binance %s %s -> HTTP %d: %s", method, path, status, msg)
            raise BinanceError(0, msg, status)
        code = body.get("code", 0) if isinstance(body, dict) else 0
        text = body.get("msg", "") if isinstance(body, dict) else raw.decode(errors="replace")
        msg = printable(str(text))
        error = classify(_int(code), msg, status, retry_after)
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


def _failure(exc: BaseException) -> str:
    """What went wrong, in words a person can act on."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "DNS lookup failed (no such host?)"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return f"TLS failed ({printable(str(exc.__cause__ or type(exc).__name__), 120)})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        return (
            f"connection failed ({printable(exc.os_error.strerror or type(exc.os_error).__name__)})"
        )
    if isinstance(exc, TimeoutError):
        return "timed out waiting for an answer"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection lost before the answer"
    return type(exc).__name__


def _seconds(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}


__all__ = ["BinanceClient", "BinanceError"]
