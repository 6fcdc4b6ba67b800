"""Bybit v5 market REST under ``/v5/market``: the envelope, the parameters, the per-IP 403 ban.

Every answer is HTTP 200 with ``{"retCode", "retMsg", "result", "retExtInfo", "time"}`` — a
refused request too (``retCode`` 10001, ``result`` empty) — except the IP limit: more than 600
requests from one IP in any 5 s window are answered HTTP 403 "access too frequent", and so is
everything from that IP for ``ban_seconds`` after (Bybit: stop, wait at least 10 minutes).
Wall time, not simulated time: the limit protects the real server. ``time`` and ``ts`` are
simulated time. Only ``category=linear`` is served.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from sim.book import ASK, BID
from sim.bybit import BybitFeed, BybitSymbol

IP_LIMIT = 600  # requests per window per IP, all endpoints together
IP_WINDOW = 5.0  # seconds, rolling
BAN_SECONDS = 600.0
FORBIDDEN = "access too frequent"
OI_INTERVALS = {
    "5min": 300_000,
    "15min": 900_000,
    "30min": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


class BybitError(Exception):
    """A request Bybit refuses inside the envelope (HTTP 200, ``retCode`` != 0)."""

    def __init__(self, msg: str, code: int = 10001) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class IpLimiter:
    """Requests per IP in a rolling window; over it, the IP is banned for ``ban_s``."""

    def __init__(
        self,
        limit: int = IP_LIMIT,
        window_s: float = IP_WINDOW,
        ban_s: float = BAN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.ban_s = ban_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._banned: dict[str, float] = {}
        self._everyone_until = 0.0

    def allow(self, ip: str) -> bool:
        now = self.clock()
        if now < self._everyone_until or now < self._banned.get(ip, 0.0):
            return False
        hits = self._hits.setdefault(ip, deque())
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        hits.append(now)
        if len(hits) > self.limit:
            self._banned[ip] = now + self.ban_s
            hits.clear()
            return False
        return True

    def ban(self, seconds: float | None = None) -> None:
        """Fault: answer every IP 403 for ``seconds`` (default: the ban length) from now."""
        self._everyone_until = self.clock() + (self.ban_s if seconds is None else seconds)

    def lift(self) -> None:
        self._banned.clear()
        self._hits.clear()
        self._everyone_until = 0.0


def _int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 19:
        raise BybitError(f"params error: {name} invalid")
    return int(raw)


def _limit(request: web.Request, default: int, top: int) -> int:
    value = _int(request, "limit", default)
    assert value is not None
    if not 1 <= value <= top:
        raise BybitError(f"params error: limit must be in [1, {top}]")
    return value


class BybitRestApi:
    """The market endpoints over a ``BybitFeed``."""

    def __init__(self, feed: BybitFeed, limiter: IpLimiter) -> None:
        self.feed = feed
        self.limiter = limiter
        self.requests = 0
        self.forbidden = 0
        # symbol -> the turnover24h /tickers reports instead of the traded one (top-N tests)
        self.turnovers: dict[str, str] = {}

    def routes(self) -> list[web.RouteDef]:
        table: list[tuple[str, Callable[[web.Request], dict[str, Any]]]] = [
            ("instruments-info", self.instruments_info),
            ("tickers", self.tickers),
            ("open-interest", self.open_interest),
            ("recent-trade", self.recent_trade),
            ("orderbook", self.orderbook),
        ]
        return [web.get(f"/v5/market/{name}", self._endpoint(fn)) for name, fn in table]

    def _endpoint(
        self, handler: Callable[[web.Request], dict[str, Any]]
    ) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> web.Response:
            self.requests += 1
            if not self.limiter.allow(request.remote or "unknown"):
                self.forbidden += 1
                return web.Response(status=403, text=FORBIDDEN)
            try:
                code, msg, result = 0, "OK", handler(request)
            except BybitError as exc:
                code, msg, result = exc.code, exc.msg, {}
            body = {
                "retCode": code,
                "retMsg": msg,
                "result": result,
                "retExtInfo": {},
                "time": self.feed.now,
            }
            return web.Response(body=orjson.dumps(body), content_type="application/json")

        return serve

    def _category(self, request: web.Request) -> None:
        category = request.query.get("category")
        if not category:
            raise BybitError("params error: category is required")
        if category != "linear":
            raise BybitError(f"params error: category {category} is not served")

    def _symbol(self, request: web.Request, required: bool = True) -> BybitSymbol | None:
        symbol = request.query.get("symbol")
        if not symbol:
            if required:
                raise BybitError("params error: symbol is required")
            return None
        bs = self.feed.feeds.get(symbol)
        if bs is None:
            raise BybitError("params error: symbol invalid")
        return bs

    def _one(self, request: web.Request) -> BybitSymbol:
        self._category(request)
        bs = self._symbol(request)
        assert bs is not None
        return bs

    def _chosen(self, request: web.Request) -> list[BybitSymbol]:
        self._category(request)
        bs = self._symbol(request, required=False)
        return [bs] if bs is not None else list(self.feed.feeds.values())

    # ---- endpoints -----------------------------------------------------------------------------

    def instruments_info(self, request: web.Request) -> dict[str, Any]:
        """Cursor paging: ``cursor`` is the offset of the next page, ``""`` after the last."""
        chosen = self._chosen(request)
        limit = _limit(request, 500, 1000)
        start = _int(request, "cursor", 0) or 0
        page = chosen[start : start + limit]
        more = start + limit < len(chosen)
        return {
            "category": "linear",
            "list": [_instrument(bs, self.feed.status.get(bs.symbol, "Trading")) for bs in page],
            "nextPageCursor": str(start + limit) if more else "",
        }

    def tickers(self, request: web.Request) -> dict[str, Any]:
        rows = []
        for bs in self._chosen(request):
            fields = self.feed.ticker_fields(bs)
            if bs.symbol in self.turnovers:
                fields["turnover24h"] = self.turnovers[bs.symbol]
            rows.append(fields)
        return {"category": "linear", "list": rows}

    def open_interest(self, request: web.Request) -> dict[str, Any]:
        """Samples at ``intervalTime`` boundaries, newest first; ``cursor``: the time (ms) the
        next page lies before."""
        bs = self._one(request)
        interval = OI_INTERVALS.get(request.query.get("intervalTime", ""))
        if interval is None:
            raise BybitError("params error: intervalTime invalid")
        limit = _limit(request, 50, 200)
        start = _int(request, "startTime", 0) or 0
        end = _int(request, "endTime", 1 << 62) or 1 << 62
        before = _int(request, "cursor", 1 << 62) or 1 << 62
        rows = [
            (t, lots)
            for t, lots in reversed(bs.open_interest)
            if t % interval == 0 and start <= t <= end and t < before
        ]
        page = rows[:limit]
        return {
            "symbol": bs.symbol,
            "category": "linear",
            "list": [
                {"openInterest": bs.instrument.qty_str(lots), "timestamp": str(t)}
                for t, lots in page
            ],
            "nextPageCursor": str(page[-1][0]) if len(rows) > limit else "",
        }

    def recent_trade(self, request: web.Request) -> dict[str, Any]:
        """The latest ``limit`` trades (at most the last 1,000), newest first."""
        bs = self._one(request)
        limit = _limit(request, 500, 1000)
        latest = list(bs.history)[-limit:]
        return {
            "category": "linear",
            "list": [
                {
                    "execId": t["i"],
                    "symbol": t["s"],
                    "price": t["p"],
                    "size": t["v"],
                    "side": t["S"],
                    "time": str(t["T"]),
                    "isBlockTrade": t["BT"],
                    "isRPITrade": t["RPI"],
                    "seq": str(t["seq"]),
                }
                for t in reversed(latest)
            ],
        }

    def orderbook(self, request: web.Request) -> dict[str, Any]:
        """The book now (up to 500 levels a side). For checks only: its ``u`` is the 1000-level
        topic's, and no delta chains onto a REST book (the WebSocket snapshot is the sync)."""
        bs = self._one(request)
        limit = _limit(request, 25, 500)
        book = bs.market.book
        deepest = bs.books[1000]
        return {
            "s": bs.symbol,
            "b": bs.levels(book.top(BID, limit)),
            "a": bs.levels(book.top(ASK, limit)),
            "ts": self.feed.now,
            "u": deepest.u,
            "seq": bs.market.update_id,
            "cts": bs.cts,
        }


def _instrument(bs: BybitSymbol, status: str) -> dict[str, Any]:
    inst = bs.instrument
    return {
        "symbol": inst.symbol,
        "contractType": "LinearPerpetual",
        "status": status,
        "baseCoin": inst.base_asset,
        "quoteCoin": inst.quote_asset,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(inst.price_precision),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {
            "minPrice": inst.tick_size,
            "maxPrice": "1999999.80",
            "tickSize": inst.tick_size,
        },
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": inst.step_size,
            "qtyStep": inst.step_size,
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "500.000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
    }
