"""A closed trade: what an executor records when a position ends, and what reports read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from strategy.signals import Quality, Side


@dataclass(frozen=True)
class ClosedTrade:
    """One round trip from entry fill to final exit. Times are integer ms since the epoch (UTC).

    `pnl` is net of fees and slippage, in the quote currency; `fees` is what of it went to fees.
    `exit_reason` says what closed it: "stop", "target", "breakeven", "end_of_data", ...
    """

    signal_id: uuid.UUID
    symbol: str
    strategy: str
    side: Side
    quality: Quality
    entry_time_ms: int
    exit_time_ms: int
    entry_price: float
    exit_price: float
    qty: float
    fees: float
    pnl: float
    exit_reason: str
