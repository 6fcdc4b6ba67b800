"""Binance's JSON shapes for orders, algo orders, positions and user-data events.

Key order and field names follow Binance's docs and the official SDK's models (reference §D.3–D.6):
REST order responses lost ``avgPrice``/``cumQuote`` in 2026-07 (the order *query* keeps
``avgPrice``); algo orders answer with ``algoId``/``clientAlgoId``/``algoStatus``/``triggerPrice``.
"""

from __future__ import annotations

from typing import Any

from sim.accounts import Account, AlgoOrder, Order, Position
from sim.instruments import Instrument, format_float


def _price(inst: Instrument, value: float) -> str:
    return format_float(value, inst.price_precision)


def order_response(inst: Instrument, o: Order) -> dict[str, Any]:
    """``POST``/``DELETE /fapi/v1/order``."""
    return {
        "clientOrderId": o.client_id,
        "cumQty": inst.qty_str(o.filled),
        "executedQty": inst.qty_str(o.filled),
        "orderId": o.order_id,
        "origQty": inst.qty_str(o.lots),
        "price": inst.price_str(o.tick),
        "reduceOnly": o.reduce_only,
        "side": o.side,
        "positionSide": "BOTH",
        "status": o.status,
        "stopPrice": inst.price_str(o.stop_tick),
        "closePosition": o.close_position,
        "symbol": o.symbol,
        "timeInForce": o.tif,
        "type": o.type,
        "origType": o.orig_type or o.type,
        "updateTime": o.update_time,
        "workingType": o.working_type,
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
    }


def order_query(inst: Instrument, o: Order) -> dict[str, Any]:
    """``GET /fapi/v1/order`` and ``/fapi/v1/openOrders`` items."""
    body = order_response(inst, o)
    body["avgPrice"] = _price(inst, o.avg_price())
    body["cumQuote"] = format_float(o.quote * inst.qty_float(1), 5)
    body["time"] = o.time
    return body


def algo_response(inst: Instrument, a: AlgoOrder) -> dict[str, Any]:
    """``POST /fapi/v1/algoOrder``, ``GET /fapi/v1/algoOrder`` and ``openAlgoOrders`` items."""
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_id,
        "algoType": "CONDITIONAL",
        "orderType": a.type,
        "symbol": a.symbol,
        "side": a.side,
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": inst.qty_str(a.lots),
        "algoStatus": a.status,
        "actualOrderId": str(a.actual_order_id) if a.actual_order_id else "",
        "actualPrice": _price(inst, a.actual_price),
        "triggerPrice": inst.price_str(a.trigger_tick),
        "price": inst.price_str(0),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": a.price_protect,
        "reduceOnly": a.reduce_only,
        "createTime": a.time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": 0,
    }


def order_trade_update(
    inst: Instrument,
    o: Order,
    now: int,
    execution: str,
    last: tuple[int, float] = (0, 0.0),
    fee: tuple[float, str] = (0.0, "USDT"),
    trade_id: int = 0,
    maker: bool = False,
    realized: float = 0.0,
) -> dict[str, Any]:
    """The ``ORDER_TRADE_UPDATE`` event; ``last`` = (lots, price) of this fill."""
    last_lots, last_price = last
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": now,
        "o": {
            "s": o.symbol,
            "c": o.client_id,
            "S": o.side,
            "o": o.type,
            "f": o.tif,
            "q": inst.qty_str(o.lots),
            "p": inst.price_str(o.tick),
            "ap": _price(inst, o.avg_price()),
            "sp": inst.price_str(o.stop_tick),
            "x": execution,
            "X": o.status,
            "i": o.order_id,
            "l": inst.qty_str(last_lots),
            "z": inst.qty_str(o.filled),
            "L": _price(inst, last_price),
            "N": fee[1],
            "n": format_float(fee[0], 8),
            "T": now,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": maker,
            "R": o.reduce_only,
            "wt": o.working_type,
            "ot": o.orig_type or o.type,
            "ps": "BOTH",
            "cp": o.close_position,
            "rp": format_float(realized, 8),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def algo_update(inst: Instrument, a: AlgoOrder, now: int, reason: str = "") -> dict[str, Any]:
    """The ``ALGO_UPDATE`` event (reference §D.6)."""
    return {
        "e": "ALGO_UPDATE",
        "T": now,
        "E": now,
        "o": {
            "caid": a.client_id,
            "aid": a.algo_id,
            "at": "CONDITIONAL",
            "o": a.type,
            "s": a.symbol,
            "S": a.side,
            "ps": "BOTH",
            "f": "GTC",
            "q": inst.qty_str(a.lots),
            "X": a.status,
            "ai": str(a.actual_order_id) if a.actual_order_id else "",
            "ap": _price(inst, a.actual_price),
            "aq": inst.qty_str(0),
            "act": "0",
            "tp": inst.price_str(a.trigger_tick),
            "p": inst.price_str(0),
            "V": "EXPIRE_MAKER",
            "wt": a.working_type,
            "pm": "NONE",
            "cp": a.close_position,
            "pP": a.price_protect,
            "R": a.reduce_only,
            "tt": a.trigger_time,
            "gtd": 0,
            "rm": reason,
        },
    }


def position_entry(
    inst: Instrument, account: Account, symbol: str, p: Position, upnl: float
) -> dict[str, Any]:
    """One ``ACCOUNT_UPDATE`` ``P`` item."""
    return {
        "s": symbol,
        "pa": inst.qty_str(p.lots),
        "ep": _price(inst, p.entry),
        "bep": _price(inst, p.entry),
        "cr": format_float(p.realized, 8),
        "up": format_float(upnl, 8),
        "mt": account.margin_type_of(symbol).lower().replace("crossed", "cross"),
        "iw": "0",
        "ps": "BOTH",
    }


def account_update(
    account: Account, now: int, reason: str, positions: list[dict[str, Any]], change: float = 0.0
) -> dict[str, Any]:
    wallet = format_float(account.wallet, 8)
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": now,
        "a": {
            "m": reason,
            "B": [{"a": "USDT", "wb": wallet, "cw": wallet, "bc": format_float(change, 8)}],
            "P": positions,
        },
    }


def position_risk(
    inst: Instrument, account: Account, symbol: str, p: Position, mark: float, upnl: float
) -> dict[str, Any]:
    """One ``GET /fapi/v2/positionRisk`` item."""
    qty = p.lots * inst.qty_float(1)
    leverage = account.leverage_of(symbol)
    margin_type = account.margin_type_of(symbol)
    return {
        "entryPrice": _price(inst, p.entry),
        "breakEvenPrice": _price(inst, p.entry),
        "marginType": "cross" if margin_type == "CROSSED" else "isolated",
        "isAutoAddMargin": "false",
        "isolatedMargin": "0.00000000",
        "leverage": str(leverage),
        "liquidationPrice": "0",
        "markPrice": _price(inst, mark),
        "maxNotionalValue": "1000000",
        "positionAmt": inst.qty_str(p.lots),
        "notional": format_float(qty * mark, 8),
        "isolatedWallet": "0",
        "symbol": symbol,
        "unRealizedProfit": format_float(upnl, 8),
        "positionSide": "BOTH",
        "updateTime": p.update_time,
    }
