"""Spot's wire endpoints: WebSocket streams under ``/spot`` and REST under ``/api/v3``.

Binance serves spot on its own hosts (``wss://stream.binance.com:9443`` with ``/ws/<streams>`` and
``/stream?streams=``, no /public or /market split; ``https://api.binance.com/api/v3/...``). The
simulator serves both on its one port: spot streams at ``<ws_url>/spot/ws/...`` and
``<ws_url>/spot/stream?streams=...`` (``Simulator.spot_ws_url`` is the base to hand a client), REST
at ``/api/v3/...`` next to ``/fapi``, with spot's own weight budget (6,000 per minute by default),
weights and limits. Spot connections take 5 incoming messages/s.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sim.faults import Faults
from sim.hub import Hub
from sim.ratelimit import WeightLimiter
from sim.rest import ApiError, RestApi, _limit, _slice, agg_trades_params
from sim.spot import SPOT, SpotFeed, SpotSymbol, spot_stream_symbol
from sim.ws import WsServer, WsSettings

SPOT_INCOMING_LIMIT = 5  # messages per second per connection (spot's WebSocket limit)
SPOT_WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per minute per IP
EXCHANGE_INFO_WEIGHT = 20
AGG_TRADES_WEIGHT = 4


def spot_depth_weight(limit: int) -> int:
    """``/api/v3/depth``: 5 up to 100 levels, 25 up to 500, 50 up to 1000, 250 up to 5000."""
    for top, weight in ((100, 5), (500, 25), (1000, 50)):
        if limit <= top:
            return weight
    return 250


class SpotWsServer(WsServer):
    """The spot stream endpoints: same connection rules and JSON methods, spot's stream names."""

    def __init__(self, hub: Hub, faults: Faults, settings: WsSettings, spot: SpotFeed) -> None:
        spot_settings = WsSettings(
            settings.ping_interval,
            settings.pong_timeout,
            settings.max_connection_age,
            SPOT_INCOMING_LIMIT,
        )
        super().__init__(hub, faults, spot_settings, symbols=lambda: set(spot.feeds))

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/spot/ws", self._handler(SPOT, False)),
            web.get("/spot/ws/{streams:.+}", self._handler(SPOT, False)),
            web.get("/spot/stream", self._handler(SPOT, True)),
        ]

    def _deliverable(self, route: str, name: str) -> bool:
        return spot_stream_symbol(name) in self.symbols()


class SpotRestApi(RestApi):
    """``/api/v3`` market data. Uses RestApi's wrapper (faults, weight, errors) with spot's own
    limiter; REST faults without a path hit spot requests too."""

    def __init__(self, spot: SpotFeed, limiter: WeightLimiter, faults: Faults) -> None:
        super().__init__(spot.feed, limiter, faults)
        self.spot = spot

    def routes(self) -> list[web.RouteDef]:
        def one(_: web.Request) -> int:
            return 1

        table: list[tuple[str, Callable[[web.Request], int], Callable[[web.Request], Any]]] = [
            ("/api/v3/ping", one, lambda r: {}),
            ("/api/v3/time", one, lambda r: {"serverTime": self.server_time()}),
            ("/api/v3/exchangeInfo", lambda r: EXCHANGE_INFO_WEIGHT, self.exchange_info),
            ("/api/v3/depth", self._depth_weight, self.depth),
            ("/api/v3/aggTrades", lambda r: AGG_TRADES_WEIGHT, self.agg_trades),
        ]
        return [web.get(path, self._endpoint(weight, handler)) for path, weight, handler in table]

    def _spot_symbol(self, request: web.Request) -> SpotSymbol:
        symbol = request.query.get("symbol")
        if not symbol:
            raise ApiError(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        sf = self.spot.feeds.get(symbol)
        if sf is None:
            raise ApiError(-1121, "Invalid symbol.")
        return sf

    def _depth_weight(self, request: web.Request) -> int:
        return spot_depth_weight(_limit(request, 100, lambda n: 1 <= n <= 5000))

    def depth(self, request: web.Request) -> dict[str, Any]:
        sf = self._spot_symbol(request)
        limit = _limit(request, 100, lambda n: 1 <= n <= 5000)
        return self.spot.depth_snapshot(sf.symbol, limit)

    def agg_trades(self, request: web.Request) -> list[dict[str, Any]]:
        """fromId, or startTime and/or endTime (no 1 h cap on spot), or the latest trades."""
        sf = self._spot_symbol(request)
        limit, from_id, start, end = agg_trades_params(request)
        history = sf.history
        if from_id is not None:
            first = history[0][0] if history else 0
            rows: list[Any] = list(_slice(history, max(0, from_id - first), limit))
        elif start is not None:
            i = bisect_left(history, start, key=lambda r: r[1])
            rows = [r for r in _slice(history, i, limit) if end is None or r[1] <= end]
        elif end is not None:
            j = bisect_left(history, end + 1, key=lambda r: r[1])
            rows = list(_slice(history, max(0, j - limit), min(limit, j)))
        else:
            rows = list(_slice(history, max(0, len(history) - limit), limit))
        qty = sf.instrument.qty_str
        return [
            {
                "a": a,
                "p": sf.price(tick),
                "q": qty(lots),
                "f": f,
                "l": last,
                "T": t,
                "m": m,
                "M": True,
            }
            for a, t, tick, lots, m, f, last in rows
        ]

    def exchange_info(self, request: web.Request) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self._now(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.limiter.limit,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [
                _spot_symbol_info(sf, self.spot.status.get(name, "TRADING"))
                for name, sf in self.spot.feeds.items()
            ],
        }


def _spot_symbol_info(sf: SpotSymbol, status: str) -> dict[str, Any]:
    inst = sf.instrument
    return {
        "symbol": inst.symbol,
        "status": status,
        "baseAsset": inst.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": inst.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": inst.tick_size,
                "maxPrice": "1000000.00",
                "tickSize": inst.tick_size,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": inst.step_size,
                "maxQty": "9000.00",
                "stepSize": inst.step_size,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }
