"""Realized PnL of one position from its fills on the user-data stream.

Each ``ORDER_TRADE_UPDATE`` with execution type TRADE carries the exchange's realized profit of
that fill (``rp``, zero for an opening fill) and its commission (``n`` in asset ``N``). The sum
over a position's orders is its realized PnL as Binance books it. A commission paid in another
asset (BNB fee discount) is not in the margin asset and is left out: counted at zero, noted here.
"""

from __future__ import annotations

from typing import Any


def fill_pnl(o: dict[str, Any], symbol: str) -> tuple[float, float] | None:
    """(realized profit, commission in the margin asset) of one order update, or None if it is
    not a fill."""
    if o.get("x") != "TRADE":
        return None
    asset = o.get("N")
    fee = float(o.get("n") or 0) if asset and symbol.endswith(asset) else 0.0
    return float(o.get("rp") or 0), fee
