"""Signed trading endpoints: orders, algo orders, account settings, positions, listen keys.

Each handler authenticates (signing.py), validates parameters with Binance's error codes, and
hands the order to the engine (orders.py). ``/fapi/v1/order`` takes only LIMIT and MARKET since
2025-12; the conditional types answer -4120 and live under ``/fapi/v1/algoOrder``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sim import order_payloads as payloads
from sim.accounts import MAX_LEVERAGE, Account, AlgoOrder, Order, lots_of, ticks_of
from sim.faults import REST_ERROR_BODIES, Faults
from sim.orders import Engine
from sim.rest import ApiError, Reply, RestApi
from sim.signing import Authenticator, mandatory
from sim.userdata import UserData

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
ORDER_LIMITS = ((10.0, 300, "TEN_SECONDS", "10S"), (60.0, 1200, "MINUTE", "1M"))
Params = dict[str, str]


def _param(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise mandatory(name)
    return value


def _flag(params: Params, name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value == "true"


class TradingRest:
    def __init__(
        self,
        rest: RestApi,
        engine: Engine,
        auth: Authenticator,
        userdata: UserData,
        faults: Faults,
    ) -> None:
        self.rest = rest
        self.engine = engine
        self.auth = auth
        self.userdata = userdata
        self.faults = faults

    def routes(self) -> list[web.RouteDef]:
        def weight(n: int) -> Callable[[web.Request], int]:
            return lambda r: n

        def all_symbols(r: web.Request) -> int:
            return 1 if "symbol" in r.query else 40

        table: list[tuple[str, str, Callable[[web.Request], int], Callable[..., Any]]] = [
            ("POST", "/fapi/v1/order", weight(0), self.new_order),
            ("DELETE", "/fapi/v1/order", weight(1), self.cancel_order),
            ("GET", "/fapi/v1/order", weight(1), self.query_order),
            ("GET", "/fapi/v1/openOrders", all_symbols, self.open_orders),
            ("POST", "/fapi/v1/algoOrder", weight(0), self.new_algo),
            ("DELETE", "/fapi/v1/algoOrder", weight(1), self.cancel_algo),
            ("GET", "/fapi/v1/algoOrder", weight(1), self.query_algo),
            ("GET", "/fapi/v1/openAlgoOrders", all_symbols, self.open_algos),
            ("POST", "/fapi/v1/leverage", weight(1), self.leverage),
            ("POST", "/fapi/v1/marginType", weight(1), self.margin_type),
            ("POST", "/fapi/v1/feeBurn", weight(1), self.set_fee_burn),
            ("GET", "/fapi/v1/feeBurn", weight(30), self.get_fee_burn),
            ("GET", "/fapi/v2/positionRisk", weight(5), self.position_risk),
            ("GET", "/fapi/v2/account", weight(5), self.account),
        ]
        routes = [
            web.route(method, path, self.rest._endpoint(cost, self._signed(handler)))
            for method, path, cost, handler in table
        ]
        for method, handler in (
            ("POST", self.userdata.create),
            ("PUT", self.userdata.keepalive),
            ("DELETE", self.userdata.delete),
        ):
            routes.append(
                web.route(
                    method, "/fapi/v1/listenKey", self.rest._endpoint(weight(1), self._key(handler))
                )
            )
        return routes

    def _signed(self, handler: Callable[..., Any]) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> Any:
            body = await request.text()
            account, params = self.auth.signed(request, body)
            try:
                result = handler(account, params)
                if asyncio.iscoroutine(result):
                    result = await result
            finally:
                self.engine.feed.hub.flush()
            return result

        return serve

    def _key(self, action: Callable[[Account], str | None]) -> Callable[[web.Request], Any]:
        """USER_STREAM endpoints: API key only, no signature."""

        def serve(request: web.Request) -> Any:
            key = action(self.auth.account(request))
            return {"listenKey": key} if key is not None else {}

        return serve

    # ---- helpers -------------------------------------------------------------------------------

    def _symbol(self, params: Params) -> str:
        symbol = _param(params, "symbol")
        if symbol not in self.engine.feed.feeds:
            raise ApiError(-1121, "Invalid symbol.")
        return symbol

    def _side(self, params: Params) -> str:
        side = _param(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        return side

    def _lots(self, symbol: str, params: Params) -> int:
        lots = lots_of(self.engine.instrument(symbol), _param(params, "quantity"))
        if lots is None:
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        if lots <= 0:
            raise ApiError(-4003, "Quantity less than or equal to zero.")
        return lots

    def _tick(self, symbol: str, params: Params, name: str) -> int:
        tick = ticks_of(self.engine.instrument(symbol), _param(params, name))
        if tick is None:
            raise ApiError(-4014, "Price not increased by tick size.")
        if tick <= 0:
            raise ApiError(-4013, "Price less than min price.")
        return tick

    def _client_id(self, params: Params, name: str, taken: set[str]) -> str:
        client_id = params.get(name) or "sim" + secrets.token_hex(10)
        if not CLIENT_ID.match(client_id):
            raise ApiError(-4015, "Client order id is not valid.")
        if client_id in taken:
            raise ApiError(-4116, "ClientOrderId is duplicated.")
        return client_id

    def _count_order(self, account: Account) -> dict[str, str]:
        """Order-rate accounting (wall time): the X-MBX-ORDER-COUNT-* headers, -1015 beyond."""
        now = time.monotonic()
        times = account.order_times
        times[:] = [t for t in times if now - t < 60.0]
        times.append(now)
        headers = {}
        for seconds, limit, name, suffix in ORDER_LIMITS:
            count = sum(1 for t in times if now - t < seconds)
            if count > limit:
                raise ApiError(
                    -1015, f"Too many new orders; current limit is {limit} orders per {name}.", 429
                )
            headers[f"X-MBX-ORDER-COUNT-{suffix}"] = str(count)
        return headers

    async def _answer(self, path: str, body: Any, headers: dict[str, str]) -> Reply:
        """The reply, unless a fault loses it after the exchange accepted the order."""
        fault = self.faults.take_after_accept(path)
        if fault is None:
            return Reply(body, headers)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        return Reply(REST_ERROR_BODIES[fault.status], headers, fault.status)

    # ---- orders --------------------------------------------------------------------------------

    async def new_order(self, account: Account, params: Params) -> Reply:
        symbol = self._symbol(params)
        side = self._side(params)
        kind = _param(params, "type")
        if kind in CONDITIONAL:
            raise ApiError(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        if kind not in ("LIMIT", "MARKET"):
            raise ApiError(-1116, "Invalid orderType.")
        lots = self._lots(symbol, params)
        tick, tif = 0, "GTC"
        if kind == "LIMIT":
            tick = self._tick(symbol, params, "price")
            tif = _param(params, "timeInForce")
        taken = {o.client_id for o in account.open_orders()}
        client_id = self._client_id(params, "newClientOrderId", taken)
        headers = self._count_order(account)
        order = Order(
            0, client_id, symbol, side, kind, lots, tick, 0, tif=tif,
            reduce_only=_flag(params, "reduceOnly"),
        )  # fmt: skip
        self.engine.place(account, order)
        body = payloads.order_response(self.engine.instrument(symbol), order)
        return await self._answer("/fapi/v1/order", body, headers)

    def _find_order(self, account: Account, params: Params) -> Order | None:
        self._symbol(params)
        order_id = params.get("orderId")
        client_id = params.get("origClientOrderId")
        if not order_id and not client_id:
            raise ApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return account.find_order(int(order_id) if order_id else None, client_id)

    def cancel_order(self, account: Account, params: Params) -> dict[str, Any]:
        order = self._find_order(account, params)
        if order is None:
            raise ApiError(-2011, "Unknown order sent.")
        self.engine.cancel(account, order)
        return payloads.order_response(self.engine.instrument(order.symbol), order)

    def query_order(self, account: Account, params: Params) -> dict[str, Any]:
        order = self._find_order(account, params)
        if order is None:
            raise ApiError(-2013, "Order does not exist.")
        return payloads.order_query(self.engine.instrument(order.symbol), order)

    def open_orders(self, account: Account, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params) if "symbol" in params else None
        return [
            payloads.order_query(self.engine.instrument(o.symbol), o)
            for o in account.open_orders(symbol)
        ]

    # ---- algo orders ---------------------------------------------------------------------------

    async def new_algo(self, account: Account, params: Params) -> Reply:
        algo_type = _param(params, "algoType")
        if algo_type != "CONDITIONAL":
            raise ApiError(-1116, "Invalid algoType.")
        symbol = self._symbol(params)
        side = self._side(params)
        kind = _param(params, "type")
        if kind not in ALGO_TYPES:
            raise ApiError(-1116, "Invalid orderType.")
        trigger = self._tick(symbol, params, "triggerPrice")
        close = _flag(params, "closePosition")
        reduce_only = _flag(params, "reduceOnly")
        if close:
            for name in ("quantity", "reduceOnly"):
                if name in params:
                    raise ApiError(-1106, f"Parameter '{name}' sent when not required.")
        lots = 0 if close else self._lots(symbol, params)
        working = params.get("workingType", "CONTRACT_PRICE")
        if working not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise ApiError(-1100, "Illegal characters found in parameter 'workingType'.")
        taken = {a.client_id for a in account.open_algos()}
        client_id = self._client_id(params, "clientAlgoId", taken)
        headers = self._count_order(account)
        if self.faults.algo_rejects:
            code, msg = self.faults.algo_rejects.popleft()
            raise ApiError(code, msg)
        algo = AlgoOrder(
            0, client_id, symbol, side, kind, lots, trigger, 0, working_type=working,
            close_position=close, reduce_only=reduce_only,
            price_protect=_flag(params, "priceProtect"),
        )  # fmt: skip
        self.engine.place_algo(account, algo)
        body = payloads.algo_response(self.engine.instrument(symbol), algo)
        return await self._answer("/fapi/v1/algoOrder", body, headers)

    def _find_algo(self, account: Account, params: Params) -> AlgoOrder | None:
        algo_id = params.get("algoId")
        client_id = params.get("clientAlgoId")
        if not algo_id and not client_id:
            raise ApiError(
                -1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!"
            )
        return account.find_algo(int(algo_id) if algo_id else None, client_id)

    def cancel_algo(self, account: Account, params: Params) -> dict[str, Any]:
        algo = self._find_algo(account, params)
        if algo is None:
            raise ApiError(-2011, "Unknown order sent.")
        self.engine.cancel_algo(account, algo)
        return {
            "algoId": algo.algo_id,
            "clientAlgoId": algo.client_id,
            "code": "200",
            "msg": "success",
        }

    def query_algo(self, account: Account, params: Params) -> dict[str, Any]:
        algo = self._find_algo(account, params)
        if algo is None:
            raise ApiError(-2013, "Order does not exist.")
        return payloads.algo_response(self.engine.instrument(algo.symbol), algo)

    def open_algos(self, account: Account, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params) if "symbol" in params else None
        return [
            payloads.algo_response(self.engine.instrument(a.symbol), a)
            for a in account.open_algos(symbol)
        ]

    # ---- account -------------------------------------------------------------------------------

    def leverage(self, account: Account, params: Params) -> dict[str, Any]:
        symbol = self._symbol(params)
        raw = _param(params, "leverage")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LEVERAGE:
            raise ApiError(-4028, f"Leverage {raw} is not valid")
        self.engine.set_leverage(account, symbol, int(raw))
        return {"leverage": int(raw), "maxNotionalValue": "1000000", "symbol": symbol}

    def margin_type(self, account: Account, params: Params) -> dict[str, Any]:
        symbol = self._symbol(params)
        kind = _param(params, "marginType").upper()
        if kind not in ("ISOLATED", "CROSSED"):
            raise ApiError(-1100, "Illegal characters found in parameter 'marginType'.")
        self.engine.set_margin_type(account, symbol, kind)
        return {"code": 200, "msg": "success"}

    def set_fee_burn(self, account: Account, params: Params) -> dict[str, Any]:
        raw = _param(params, "feeBurn")
        if raw not in ("true", "false"):
            raise ApiError(-1100, "Illegal characters found in parameter 'feeBurn'.")
        account.fee_burn = raw == "true"
        return {"code": 200, "msg": "success"}

    def get_fee_burn(self, account: Account, params: Params) -> dict[str, Any]:
        return {"feeBurn": account.fee_burn}

    def position_risk(self, account: Account, params: Params) -> list[dict[str, Any]]:
        symbols = [self._symbol(params)] if "symbol" in params else list(self.engine.feed.feeds)
        engine = self.engine
        return [
            payloads.position_risk(
                engine.instrument(s), account, s, account.position(s), engine.mark(s),
                engine.upnl(account, s),
            )
            for s in symbols
        ]  # fmt: skip

    def account(self, account: Account, params: Params) -> dict[str, Any]:
        engine = self.engine
        upnl = sum(engine.upnl(account, s) for s in account.positions)
        wallet = account.wallet
        available = engine.available(account)
        money = {
            "totalWalletBalance": wallet,
            "totalUnrealizedProfit": upnl,
            "totalMarginBalance": wallet + upnl,
            "totalCrossWalletBalance": wallet,
            "totalCrossUnPnl": upnl,
            "availableBalance": available,
            "maxWithdrawAmount": available,
        }
        text = {k: f"{v:.8f}" for k, v in money.items()}
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            **text,
            "assets": [
                {
                    "asset": "USDT",
                    "walletBalance": text["totalWalletBalance"],
                    "unrealizedProfit": text["totalUnrealizedProfit"],
                    "marginBalance": text["totalMarginBalance"],
                    "availableBalance": text["availableBalance"],
                    "maxWithdrawAmount": text["maxWithdrawAmount"],
                    "updateTime": engine.now,
                },
                {
                    "asset": "BNB",  # pays commission while the fee discount is on
                    "walletBalance": f"{account.bnb:.8f}",
                    "unrealizedProfit": "0.00000000",
                    "marginBalance": f"{account.bnb:.8f}",
                    "availableBalance": f"{account.bnb:.8f}",
                    "maxWithdrawAmount": f"{account.bnb:.8f}",
                    "updateTime": engine.now,
                },
            ],
            "positions": self.position_risk(account, {}),
        }
