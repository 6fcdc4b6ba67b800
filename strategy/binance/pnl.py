"""Realized PnL of one position from its fills on the user-data stream (events.py credits them).

Each ``ORDER_TRADE_UPDATE`` with execution type TRADE carries the exchange's realized profit of
that fill (``rp``, zero for an opening fill) and its commission (``n`` in asset ``N``). The sum
over a position's orders is its realized PnL as Binance books it. A commission paid in another
asset than the margin asset (BNB, with the account's BNB fee discount on) is valued at that
asset's USDT mark price when the fill arrives (``FeePrices``), since it costs the account as much.
"""

from __future__ import annotations

import logging
import time

from strategy.binance.client import BinanceClient
from strategy.binance.errors import BinanceError

log = logging.getLogger(__name__)

PRICE_MAX_AGE = 60.0  # seconds a fee asset's price is reused


class FeePrices:
    """A commission in another asset, valued in the margin asset at its recent mark price."""

    def __init__(self, client: BinanceClient) -> None:
        self.client = client
        self._prices: dict[str, tuple[float, float]] = {}  # asset -> (USDT price, monotonic)

    async def value(self, amount: float, asset: str, symbol: str) -> float:
        """`amount` of `asset`, paid on a fill of `symbol`, in `symbol`'s margin asset; 0 (with
        a warning) when its price cannot be had."""
        if not asset or amount == 0 or symbol.endswith(asset):
            return amount
        price = await self._price(asset)
        return 0.0 if price is None else amount * price

    async def _price(self, asset: str) -> float | None:
        cached = self._prices.get(asset)
        if cached is not None and time.monotonic() - cached[1] < PRICE_MAX_AGE:
            return cached[0]
        try:
            body = await self.client.request(
                "GET", "/fapi/v1/premiumIndex", {"symbol": f"{asset}USDT"}, security="NONE"
            )
            price = float(body["markPrice"])
        except (BinanceError, KeyError, TypeError, ValueError) as exc:
            log.warning("no %sUSDT price for a commission paid in %s, counted as 0: %s",
                        asset, asset, exc)  # fmt: skip
            return cached[0] if cached is not None else None
        self._prices[asset] = (price, time.monotonic())
        return price
