"""REST market-data endpoints under ``/fapi/v1``, with Binance's weights, limits and errors."""

from __future__ import annotations

import asyncio
import inspect
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from sim.faults import REST_ERROR_BODIES, Faults, RestFault
from sim.feed import Feed, SymbolFeed
from sim.instruments import format_float
from sim.ratelimit import Verdict, WeightLimiter

log = logging.getLogger(__name__)

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
DEPTH_WEIGHTS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
AGG_TRADES_WEIGHT = 20
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class ApiError(Exception):
    """A request Binance would reject with HTTP 400 and ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


@dataclass
class Reply:
    """A handler's answer when it needs more than a 200 with a body (headers, another status)."""

    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


# ---- parameter parsing ------------------------------------------------------------------------


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 20:
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        )
    return int(raw)


def _limit(request: web.Request, default: int, allowed: Callable[[int], bool]) -> int:
    value = _int_param(request, "limit")
    if value is None:
        return default
    if not allowed(value):
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return value


def agg_trades_params(request: web.Request) -> tuple[int, int | None, int | None, int | None]:
    """``limit`` (≤ 1000), ``fromId``, ``startTime``, ``endTime`` of an aggTrades request."""
    limit = _limit(request, 500, lambda n: 1 <= n <= 1000)
    return (
        limit,
        _int_param(request, "fromId"),
        _int_param(request, "startTime"),
        _int_param(request, "endTime"),
    )


class RestApi:
    """The handlers; ``routes()`` registers them on the application."""

    def __init__(self, feed: Feed | None, limiter: WeightLimiter, faults: Faults) -> None:
        self.feed = feed
        self.limiter = limiter
        self.faults = faults
        self.requests = 0
        # symbol -> the 24 h quote volume ticker/24hr reports instead of the traded one, so a
        # test can change the top:N ranking
        self.quote_volumes: dict[str, Decimal] = {}

    def routes(self) -> list[web.RouteDef]:
        def one(_: web.Request) -> int:
            return 1

        table: list[tuple[str, Callable[[web.Request], int], Callable[[web.Request], Any]]] = [
            ("/fapi/v1/ping", one, lambda r: {}),
            ("/fapi/v1/time", one, lambda r: {"serverTime": self.server_time()}),
            ("/fapi/v1/exchangeInfo", one, self.exchange_info),
            ("/fapi/v1/depth", self._depth_weight, self.depth),
            ("/fapi/v1/aggTrades", lambda r: AGG_TRADES_WEIGHT, self.agg_trades),
            ("/fapi/v1/openInterest", one, self.open_interest),
            (
                "/fapi/v1/premiumIndex",
                lambda r: 1 if "symbol" in r.query else 10,
                self.premium_index,
            ),
            ("/fapi/v1/ticker/24hr", lambda r: 1 if "symbol" in r.query else 40, self.ticker_24hr),
        ]
        return [web.get(path, self._endpoint(weight, handler)) for path, weight, handler in table]

    # ---- the common wrapper: faults, weight, errors --------------------------------------------

    def _endpoint(
        self, weight: Callable[[web.Request], int], handler: Callable[[web.Request], Any]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Faults, weight and errors around ``handler`` (sync or async; may return a Reply)."""

        async def serve(request: web.Request) -> web.Response:
            self.requests += 1
            delay = self.faults.take_rest_delay()
            if delay:
                await asyncio.sleep(delay)
            ip = request.remote or "unknown"
            fault = self.faults.take_rest_fault(request.path)
            if fault is not None:
                return self._fault_response(fault, ip)
            try:
                cost = weight(request)
            except ApiError:
                cost = 1
            verdict = self.limiter.charge(ip, cost)
            headers = {WEIGHT_HEADER: str(verdict.used)}
            if verdict.status != 200:
                return self._limit_response(verdict, ip, headers)
            try:
                result = handler(request)
                if inspect.isawaitable(result):
                    result = await result
            except ApiError as exc:
                return json_response({"code": exc.code, "msg": exc.msg}, exc.status, headers)
            if isinstance(result, Reply):
                return json_response(result.body, result.status, {**headers, **result.headers})
            return json_response(result, headers=headers)

        return serve

    def _limit_response(self, verdict: Verdict, ip: str, headers: dict[str, str]) -> web.Response:
        headers["Retry-After"] = str(verdict.retry_after)
        if verdict.status == 418:
            msg = (
                f"Way too much request weight used; IP({ip}) banned until "
                f"{verdict.banned_until_ms}. Please use WebSocket Streams for live updates to "
                "avoid bans."
            )
        else:
            msg = (
                f"Too much request weight used; current limit is {self.limiter.limit} request "
                "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                "polling the API."
            )
        return json_response({"code": -1003, "msg": msg}, verdict.status, headers)

    def _fault_response(self, fault: RestFault, ip: str) -> web.Response:
        headers = {WEIGHT_HEADER: str(self.limiter.used(ip))}
        if fault.status in (418, 429):
            verdict = Verdict(fault.status, self.limiter.used(ip), fault.retry_after)
            return self._limit_response(verdict, ip, headers)
        return json_response(REST_ERROR_BODIES[fault.status], fault.status, headers)

    # ---- helpers -------------------------------------------------------------------------------

    def _now(self) -> int:
        return self.feed.now if self.feed is not None else 0

    def server_time(self) -> int:
        """``/fapi/v1/time``: simulated time, skewed when the clock-skew fault says so."""
        skew = self.faults.clock_skew_ms if self.faults.skew_time_endpoint else 0
        return self._now() + skew

    def signing_time(self) -> int:
        """The clock signed requests' timestamps are checked against."""
        return self._now() + self.faults.clock_skew_ms

    def _symbol(self, request: web.Request) -> SymbolFeed:
        symbol = request.query.get("symbol")
        if not symbol:
            raise ApiError(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        sf = self.feed.feeds.get(symbol) if self.feed is not None else None
        if sf is None:
            raise ApiError(-1121, "Invalid symbol.")
        return sf

    def _symbols(self, request: web.Request) -> list[SymbolFeed]:
        if "symbol" in request.query:
            return [self._symbol(request)]
        return list(self.feed.feeds.values()) if self.feed is not None else []

    # ---- endpoints -----------------------------------------------------------------------------

    def _depth_weight(self, request: web.Request) -> int:
        return DEPTH_WEIGHTS[_limit(request, 500, DEPTH_WEIGHTS.__contains__)]

    def depth(self, request: web.Request) -> dict[str, Any]:
        sf = self._symbol(request)
        limit = _limit(request, 500, DEPTH_WEIGHTS.__contains__)
        assert self.feed is not None
        return self.feed.depth_snapshot(sf.symbol, limit)

    def agg_trades(self, request: web.Request) -> list[dict[str, Any]]:
        sf = self._symbol(request)
        limit, from_id, start, end = agg_trades_params(request)
        if start is not None and end is not None and end - start > HOUR_MS:
            raise ApiError(-1127, "More than 1 hours between startTime and endTime.")
        assert self.feed is not None
        # Binance serves only the last 48 h: older trades are gone, whatever the parameters say.
        self.feed.prune_history(sf, self.feed.now)
        history = sf.history
        if from_id is not None:
            first = history[0][0] if history else 0
            rows: list[Any] = list(_slice(history, max(0, from_id - first), limit))
            if start is not None or end is not None:
                lo, hi = start or 0, end if end is not None else 1 << 62
                rows = [r for r in rows if lo <= r[1] <= hi]
        elif start is not None or end is not None:
            if start is None:
                start = end - HOUR_MS  # type: ignore[operator]
            if end is None:
                end = start + HOUR_MS
            i = bisect_left(history, start, key=lambda r: r[1])
            j = bisect_right(history, end, key=lambda r: r[1])
            rows = list(_slice(history, i, min(limit, j - i)))
        else:
            rows = list(_slice(history, max(0, len(history) - limit), limit))
        price, qty = sf.price, sf.instrument.qty_str
        return [
            {
                "a": a,
                "p": price(tick),
                "q": qty(lots),
                "nq": qty(lots),
                "f": f,
                "l": last,
                "T": t,
                "m": m,
            }
            for a, t, tick, lots, m, f, last in rows
        ]

    def open_interest(self, request: web.Request) -> dict[str, Any]:
        sf = self._symbol(request)
        return {
            "openInterest": sf.instrument.qty_str(sf.market.open_interest),
            "symbol": sf.symbol,
            "time": self._now(),
        }

    def premium_index(self, request: web.Request) -> Any:
        rows = [self._premium(sf) for sf in self._symbols(request)]
        return rows[0] if "symbol" in request.query else rows

    def _premium(self, sf: SymbolFeed) -> dict[str, Any]:
        market = sf.market
        now = self._now()
        return {
            "symbol": sf.symbol,
            "markPrice": format_float(round(market.mark, sf.instrument.price_precision)),
            "indexPrice": format_float(market.index),
            "estimatedSettlePrice": format_float(market.index * (1 + market.premium / 2)),
            "lastFundingRate": format_float(market.funding_rate()),
            "interestRate": "0.00010000",
            "nextFundingTime": (now // (8 * HOUR_MS) + 1) * 8 * HOUR_MS,
            "time": now,
        }

    def ticker_24hr(self, request: web.Request) -> Any:
        rows = [self._ticker(sf) for sf in self._symbols(request)]
        return rows[0] if "symbol" in request.query else rows

    def _ticker(self, sf: SymbolFeed) -> dict[str, Any]:
        now = self._now()
        history = sf.history
        i = bisect_left(history, now - DAY_MS, key=lambda r: r[1])
        rows = list(_slice(history, i, len(history) - i))
        inst = sf.instrument
        if not rows:
            last_tick = sf.market.last_tick
            rows_open = last_tick
            high = low = last_tick
            volume = 0
            quote = Decimal(0)
            last_lots = 0
            first_id = last_id = -1
        else:
            rows_open = rows[0][2]
            last_tick = rows[-1][2]
            high = max(r[2] for r in rows)
            low = min(r[2] for r in rows)
            volume = sum(r[3] for r in rows)
            quote = sum(
                (Decimal(inst.price_str(r[2])) * Decimal(inst.qty_str(r[3])) for r in rows),
                Decimal(0),
            )
            last_lots = rows[-1][3]
            first_id, last_id = rows[0][0], rows[-1][0]
        open_price = Decimal(inst.price_str(rows_open))
        last_price = Decimal(inst.price_str(last_tick))
        change = last_price - open_price
        weighted = quote / Decimal(inst.qty_str(volume)) if volume else last_price
        return {
            "symbol": sf.symbol,
            "priceChange": inst.price_str(last_tick - rows_open),
            "priceChangePercent": f"{change / open_price * 100:.3f}",
            "weightedAvgPrice": f"{weighted:.{inst.price_precision}f}",
            "lastPrice": inst.price_str(last_tick),
            "lastQty": inst.qty_str(last_lots),
            "openPrice": inst.price_str(rows_open),
            "highPrice": inst.price_str(high),
            "lowPrice": inst.price_str(low),
            "volume": inst.qty_str(volume),
            "quoteVolume": f"{self.quote_volumes.get(sf.symbol, quote):.2f}",
            "openTime": now - DAY_MS,
            "closeTime": now,
            "firstId": first_id,
            "lastId": last_id,
            "count": len(rows),
        }

    def exchange_info(self, request: web.Request) -> dict[str, Any]:
        symbols = [sf.instrument for sf in self.feed.feeds.values()] if self.feed else []
        return {
            "timezone": "UTC",
            "serverTime": self._now(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.limiter.limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [_symbol_info(i, self.feed.start_ms if self.feed else 0) for i in symbols],
        }


def _slice(history: Any, start: int, count: int) -> Any:
    """``count`` rows of a deque from ``start`` without copying the whole deque."""
    from itertools import islice

    return islice(history, start, start + max(0, count))


def _symbol_info(inst: Any, onboard_ms: int) -> dict[str, Any]:
    return {
        "symbol": inst.symbol,
        "pair": inst.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": onboard_ms - 400 * DAY_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": inst.base_asset,
        "quoteAsset": inst.quote_asset,
        "marginAsset": inst.quote_asset,
        "pricePrecision": inst.price_precision,
        "quantityPrecision": inst.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": inst.tick_size,
                "maxPrice": "4529764",
                "tickSize": inst.tick_size,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": inst.step_size,
                "maxQty": "1000",
                "stepSize": inst.step_size,
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": inst.step_size,
                "maxQty": "120",
                "stepSize": inst.step_size,
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }
