"""Placing, resolving and cancelling Flowline's orders, each recorded in ``exchange_orders``.

Client order ids are derived from the signal id (``fl-<20 hex>-<role>``), so the same order asked
twice has the same id. An answer we never got (5xx, timeout: ``StatusUnknown``) is resolved by
querying the order by that id, a few times; only when the exchange says it does not know the id
is the order sent again. Nothing is ever re-sent blindly.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from strategy.binance.client import BinanceClient
from strategy.binance.errors import OrderRejected, StatusUnknown, UnknownOrder
from strategy.binance.store import Store

log = logging.getLogger(__name__)

PREFIX = "fl-"
ROLES = {"entry": "e", "stop": "sl", "breakeven": "be", "tp1": "tp1", "tp2": "tp2", "close": "x"}
MAX_REPLACES = 9
# a LIMIT entry re-placed after its timeout: "entry1" ... "entry9" ("-e1" ... "-e9")
ROLES |= {f"entry{n}": f"e{n}" for n in range(1, MAX_REPLACES + 1)}
# the stop moved by the exit rules' trailing: "move1", "move2", ... ("-m1", "-m2", ...): a
# cancelled client id is never reused, so each move is a new order
_ID = re.compile(r"^fl-([0-9a-f]{20})-(e[1-9]?|sl|be|tp1|tp2|x|m[1-9][0-9]{0,6})$")
DUPLICATE_ID = -4116  # "ClientOrderId is duplicated": it is open already, so it exists
RESOLVE_ATTEMPTS = 4
RESOLVE_PAUSE = 0.5  # s between queries of an order whose answer was lost


def client_id(signal_id: uuid.UUID, role: str) -> str:
    """``fl-`` + 20 hex chars of the signal id + role suffix: within Binance's 36-char regex."""
    suffix = f"m{role[4:]}" if is_move(role) else ROLES[role]
    return f"{PREFIX}{signal_id.hex[:20]}-{suffix}"


def entry_role(attempt: int) -> str:
    """The role of a signal's entry order: "entry", then "entry1", ... for its re-placements."""
    return f"entry{attempt}" if attempt else "entry"


def is_entry(role: str) -> bool:
    return role.startswith("entry")


def is_move(role: str) -> bool:
    return role.startswith("move")


def next_move(role: str) -> str:
    """The role of the stop that replaces a stop of role ``role``: move1, move2, ..."""
    return f"move{int(role[4:]) + 1}" if is_move(role) else "move1"


def parse_client_id(value: str) -> tuple[str, str] | None:
    """(20-hex signal key, role) of one of our ids, else None."""
    m = _ID.match(value or "")
    if m is None:
        return None
    suffix = m.group(2)
    if suffix.startswith("m"):
        return m.group(1), f"move{suffix[1:]}"
    role = next(r for r, known in ROLES.items() if known == suffix)
    return m.group(1), role


def signal_key(signal_id: uuid.UUID) -> str:
    return signal_id.hex[:20]


class Orders:
    def __init__(self, client: BinanceClient, store: Store) -> None:
        self.client = client
        self.store = store

    async def place(self, row: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Send an order (``row["is_algo"]``: to the Algo Service) exactly once."""
        await self.store.add_order(row)
        cid = row["client_order_id"]
        algo = row["is_algo"]
        path = "/fapi/v1/algoOrder" if algo else "/fapi/v1/order"
        params = {**params, ("clientAlgoId" if algo else "newClientOrderId"): cid}
        send: Callable[[], Awaitable[Any]] = lambda: self.client.request(  # noqa: E731
            "POST", path, params, order=True
        )
        try:
            answer = await self._send_or_resolve(send, row["symbol"], cid, algo)
        except Exception as exc:
            await self.store.update_order(cid, status="REJECTED", reason=str(exc)[:500])
            raise
        await self.record(cid, answer, algo)
        return answer

    async def _send_or_resolve(
        self, send: Callable[[], Awaitable[Any]], symbol: str, cid: str, algo: bool
    ) -> dict[str, Any]:
        for attempt in range(2):
            try:
                return await send()
            except (StatusUnknown, OrderRejected) as exc:
                if isinstance(exc, OrderRejected) and exc.code != DUPLICATE_ID:
                    raise
                log.warning("order %s: %s; querying it by client id", cid, exc)
                found = await self._resolve(symbol, cid, algo)
                if found is not None:
                    log.info("order %s exists on the exchange (%s); not re-sending", cid, found)
                    return found
                if attempt:
                    raise
                log.warning("order %s: the exchange does not know it; sending it once more", cid)
        raise AssertionError("unreachable")

    async def _resolve(self, symbol: str, cid: str, algo: bool) -> dict[str, Any] | None:
        for _ in range(RESOLVE_ATTEMPTS):
            try:
                return await self.query(symbol, cid, algo)
            except UnknownOrder:
                await asyncio.sleep(RESOLVE_PAUSE)  # it may still be on its way
            except StatusUnknown:
                await asyncio.sleep(RESOLVE_PAUSE)
        return None

    async def query(self, symbol: str, cid: str, algo: bool) -> dict[str, Any]:
        if algo:
            return await self.client.request("GET", "/fapi/v1/algoOrder", {"clientAlgoId": cid})
        return await self.client.request(
            "GET", "/fapi/v1/order", {"symbol": symbol, "origClientOrderId": cid}
        )

    async def record(self, cid: str, answer: dict[str, Any], algo: bool) -> None:
        if algo:
            await self.store.update_order(
                cid, status=answer.get("algoStatus", "NEW"), exchange_algo_id=answer.get("algoId")
            )
            return
        avg = float(answer.get("avgPrice") or 0) or None
        await self.store.update_order(
            cid,
            status=answer.get("status", "NEW"),
            exchange_order_id=answer.get("orderId"),
            filled_qty=float(answer.get("executedQty") or 0),
            avg_price=avg,
        )

    async def cancel(self, symbol: str, cid: str, algo: bool, reason: str) -> bool:
        """Cancel one of our orders; False if it was not open (filled, gone, unknown)."""
        try:
            if algo:
                await self.client.request("DELETE", "/fapi/v1/algoOrder", {"clientAlgoId": cid})
            else:
                await self.client.request(
                    "DELETE", "/fapi/v1/order", {"symbol": symbol, "origClientOrderId": cid}
                )
        except UnknownOrder:
            return False
        await self.store.update_order(cid, status="CANCELED", reason=reason)
        return True

    async def open_ours(self, symbol: str | None = None) -> list[tuple[str, str, bool]]:
        """(symbol, client id, is_algo) of every open order and algo order with our prefix."""
        params = {"symbol": symbol} if symbol else {}
        orders = await self.client.request("GET", "/fapi/v1/openOrders", params)
        algos = await self.client.request("GET", "/fapi/v1/openAlgoOrders", params)
        return open_ours(orders, algos)

    async def position_amounts(self) -> dict[str, float]:
        return position_amounts(await self.client.request("GET", "/fapi/v2/positionRisk"))


def open_ours(
    orders: list[dict[str, Any]], algos: list[dict[str, Any]]
) -> list[tuple[str, str, bool]]:
    """(symbol, client id, is_algo) of ours among ``openOrders`` and ``openAlgoOrders`` items."""
    found = [(o["symbol"], o["clientOrderId"], False) for o in orders]
    found += [(a["symbol"], a["clientAlgoId"], True) for a in algos]
    return [f for f in found if f[1].startswith(PREFIX)]


def position_amounts(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Signed position amount per symbol from ``positionRisk`` items (one-way mode)."""
    return {r["symbol"]: float(r["positionAmt"]) for r in rows}
