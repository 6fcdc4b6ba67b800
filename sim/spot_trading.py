"""Spot's signed trading endpoints under ``/api/v3``: order (new, cancel, query), openOrders and
account, with spot's weights and error codes.

Authentication and its errors are the futures endpoints' (signing.py); the parameters are
checked as trading_rest.py checks them, with spot's codes where they differ (a duplicate open
client id is -2010 "Duplicate order sent.", a balance too small -2010 too). Orders answer in
the FULL response type's fields, ``fills`` left out (the executor reads balances instead).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sim.accounts import Order, lots_of, ticks_of
from sim.instruments import format_float
from sim.rest import ApiError
from sim.signing import Authenticator, mandatory
from sim.spot_api import SpotRestApi
from sim.spot_orders import SpotAccount, SpotEngine
from sim.trading_rest import Params, _param

SPOT_CLIENT_ID = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")


class SpotTrading:
    def __init__(self, rest: SpotRestApi, engine: SpotEngine, auth: Authenticator) -> None:
        self.rest = rest
        self.engine = engine
        self.auth = auth

    def routes(self) -> list[web.RouteDef]:
        def weight(n: int) -> Callable[[web.Request], int]:
            return lambda r: n

        def open_weight(r: web.Request) -> int:
            return 6 if "symbol" in r.query else 80

        table: list[tuple[str, str, Callable[[web.Request], int], Callable[..., Any]]] = [
            ("POST", "/api/v3/order", weight(1), self.new_order),
            ("DELETE", "/api/v3/order", weight(1), self.cancel_order),
            ("GET", "/api/v3/order", weight(4), self.query_order),
            ("GET", "/api/v3/openOrders", open_weight, self.open_orders),
            ("GET", "/api/v3/account", weight(20), self.account),
        ]
        return [
            web.route(method, path, self.rest._endpoint(cost, self._signed(handler)))
            for method, path, cost, handler in table
        ]

    def _signed(self, handler: Callable[[SpotAccount, Params], Any]) -> Callable[..., Any]:
        async def serve(request: web.Request) -> Any:
            account, params = self.auth.signed(request, await request.text())
            try:
                return handler(self.engine.accounts[account.api_key], params)
            finally:
                self.engine.spot.hub.flush()

        return serve

    def _symbol(self, params: Params) -> str:
        symbol = _param(params, "symbol")
        if symbol not in self.engine.spot.feeds:
            raise ApiError(-1121, "Invalid symbol.")
        return symbol

    def new_order(self, account: SpotAccount, params: Params) -> dict[str, Any]:
        symbol = self._symbol(params)
        inst = self.engine.instrument(symbol)
        side, kind = _param(params, "side"), _param(params, "type")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1100, "Illegal characters found in parameter 'side'.")
        if kind not in ("LIMIT", "MARKET"):
            raise ApiError(-1116, "Invalid orderType.")
        lots = lots_of(inst, _param(params, "quantity"))
        if lots is None or lots <= 0:
            raise ApiError(-1013, "Filter failure: LOT_SIZE")
        tick, tif = 0, "GTC"
        if kind == "LIMIT":
            tick = ticks_of(inst, _param(params, "price")) or 0
            if tick <= 0:
                raise ApiError(-1013, "Filter failure: PRICE_FILTER")
            tif = _param(params, "timeInForce")
        client_id = params.get("newClientOrderId") or "sim" + secrets.token_hex(10)
        if not SPOT_CLIENT_ID.match(client_id):
            raise ApiError(-1100, "Illegal characters found in parameter 'newClientOrderId'.")
        if any(o.client_id == client_id for o in account.open_orders()):
            raise ApiError(-2010, "Duplicate order sent.")
        order = Order(0, client_id, symbol, side, kind, lots, tick, 0, tif=tif)
        self.engine.place(account, order)
        return {**self._order(order), "transactTime": order.time, "fills": []}

    def _find(self, account: SpotAccount, params: Params, code: int, msg: str) -> Order:
        self._symbol(params)
        order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        if not order_id and not client_id:
            raise mandatory("orderId")
        order = account.find(int(order_id) if order_id else None, client_id)
        if order is None:
            raise ApiError(code, msg)
        return order

    def cancel_order(self, account: SpotAccount, params: Params) -> dict[str, Any]:
        order = self._find(account, params, -2011, "Unknown order sent.")
        self.engine.cancel(account, order)
        return {**self._order(order), "origClientOrderId": order.client_id}

    def query_order(self, account: SpotAccount, params: Params) -> dict[str, Any]:
        return self._query(self._find(account, params, -2013, "Order does not exist."))

    def open_orders(self, account: SpotAccount, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params) if "symbol" in params else None
        return [self._query(o) for o in account.open_orders(symbol)]

    def account(self, account: SpotAccount, params: Params) -> dict[str, Any]:
        assets = sorted(set(account.free) | set(account.locked))
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": self.engine.now,
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": a,
                    "free": format_float(max(0.0, account.free[a]), 8),
                    "locked": format_float(max(0.0, account.locked[a]), 8),
                }
                for a in assets
            ],
            "permissions": ["SPOT"],
        }

    def _order(self, o: Order) -> dict[str, Any]:
        inst = self.engine.instrument(o.symbol)
        return {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "price": inst.price_str(o.tick),
            "origQty": inst.qty_str(o.lots),
            "executedQty": inst.qty_str(o.filled),
            "cummulativeQuoteQty": format_float(o.quote * inst.qty_float(1), 8),
            "status": o.status,
            "timeInForce": o.tif,
            "type": o.type,
            "side": o.side,
            "workingTime": o.time,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def _query(self, o: Order) -> dict[str, Any]:
        """``GET /api/v3/order`` and ``openOrders`` items."""
        return {
            **self._order(o),
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": o.time,
            "updateTime": o.update_time,
            "isWorking": o.status in ("NEW", "PARTIALLY_FILLED"),
            "origQuoteOrderQty": "0.00000000",
        }
