"""A spot deal's life (seed 003's Deal, BuyOrderMonitor, FilledBuyOrderHandler,
DealCompletionMonitor and StopLossMonitor), as pure decisions on what the exchange says.

buying → (the BUY fills) selling → (the SELL fills) closed; a BUY still open after
``order_lifetime`` is cancelled and, up to ``attempts`` BUYs in all, re-placed at the new price
(with nothing bought after the last one: cancelled); a stop level reached while selling cancels the
SELL and sells at market (stopping → closed). The executor asks the exchange for the current
order, calls ``decide`` and does what it says; nothing here does I/O, so a restart resumes by
asking the same question.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, NamedTuple

OPEN_STATES = ("buying", "selling", "stopping")
PREFIX = "fls-"  # spot client ids; the futures executor's are "fl-"
Action = Literal[
    "wait", "place_buy", "cancel_buy", "replace_buy", "give_up", "place_sell", "close", "stop"
]


class OrderView(NamedTuple):
    """What the exchange says of one order (``GET /api/v3/order``); None: it has no such order."""

    status: str  # NEW | PARTIALLY_FILLED | FILLED | CANCELED | EXPIRED | REJECTED
    executed_qty: float
    avg_price: float  # cummulativeQuoteQty / executedQty, 0 when nothing filled


@dataclass
class Deal:
    deal_id: uuid.UUID
    symbol: str
    strategy: str
    state: str
    quota: float  # quote amount
    markup: float  # fraction above the fill for the SELL
    stop_frac: float  # fraction below the fill for the hard stop
    buy_price: float
    buy_qty: float
    attempt: int = 0
    placed_ms: int = 0
    filled_qty: float = 0.0
    fill_price: float | None = None
    sell_price: float | None = None
    sell_qty: float | None = None
    exit_price: float | None = None
    pnl: float | None = None  # net of ``fees``
    reason: str | None = None
    fees: float = 0.0  # quote commission of the BUY and the closing SELL

    def settle(self, exit_price: float, buy_rate: float, sell_rate: float) -> None:
        """The closed deal's PnL net of commission. Binance takes it from the asset received:
        the BUY's from the base bought (worth ``filled_qty`` × rate at the fill price, even where
        less than that is sold), the SELL's from the quote received."""
        sold, fill = self.sell_qty or 0.0, self.fill_price or 0.0
        self.exit_price = exit_price
        self.fees = self.filled_qty * fill * buy_rate + sold * exit_price * sell_rate
        self.pnl = sold * (exit_price - fill) - self.fees

    def client_id(self, role: str | None = None) -> str:
        """``fls-<20 hex>-b<attempt>`` (BUY), ``-s`` (SELL at the markup), ``-x`` (stop SELL)."""
        role = role or {"buying": f"b{self.attempt}", "selling": "s", "stopping": "x"}[self.state]
        return f"{PREFIX}{self.deal_id.hex[:20]}-{role}"

    @property
    def stop_price(self) -> float | None:
        return None if self.fill_price is None else self.fill_price * (1 - self.stop_frac)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def decide(
    deal: Deal, order: OrderView | None, now_ms: int, lifetime_ms: int, attempts: int
) -> Action:
    """The next step of ``deal`` given its current order (None: the exchange has none)."""
    if deal.state == "buying":
        return _buying(deal, order, now_ms, lifetime_ms, attempts)
    if order is None:  # recorded, never arrived (a restart between the two)
        return "stop" if deal.state == "stopping" else "place_sell"
    if order.status == "FILLED":
        return "close"
    if order.status in ("CANCELED", "EXPIRED", "REJECTED"):
        # cancelled by someone else (or a MARKET SELL the book could not fill): sell again
        return "stop" if deal.state == "stopping" else "place_sell"
    return "wait"


def _buying(
    deal: Deal, order: OrderView | None, now_ms: int, lifetime_ms: int, attempts: int
) -> Action:
    if order is None:
        return "place_buy"
    if order.status == "FILLED":
        return "place_sell"
    if order.status in ("NEW", "PARTIALLY_FILLED"):
        return "cancel_buy" if now_ms - deal.placed_ms >= lifetime_ms else "wait"
    if order.executed_qty > 0:  # cancelled after a partial fill: sell what was bought
        return "place_sell"
    return "replace_buy" if deal.attempt + 1 < attempts else "give_up"


def stop_hit(deal: Deal, bid: float) -> bool:
    """The hard stop: the best bid at or below the fill less ``stop_frac``."""
    stop = deal.stop_price
    return deal.state == "selling" and stop is not None and bid <= stop
