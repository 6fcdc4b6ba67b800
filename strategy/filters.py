"""A symbol's price tick and lot step, and the rounding every order price and quantity gets.

One rounding for every executor: Binance's come from ``exchangeInfo`` (strategy/binance/filters.py
parses them); paper and backtests take them from the recording itself — the tick from the gaps
between recorded book levels, the lot step as the greatest common step of recorded trade
quantities — so a backtest needs nothing but the database, and both are multiples of the
exchange's own filters: every value rounded to them is one the exchange would accept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

MAX_DECIMALS = 8  # Binance quantities have at most 8 decimals


@dataclass(frozen=True)
class SymbolFilters:
    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal

    @classmethod
    def recorded(cls, symbol: str, tick: float, step: float | None) -> SymbolFilters:
        """Filters known from a recording: the tick, and the lot step when trades show it."""
        lot = Decimal(repr(step)) if step else Decimal(0)
        inf = Decimal("Infinity")
        return cls(symbol, Decimal(repr(tick)), lot, lot, inf, inf, Decimal(0))

    def price(self, value: float) -> Decimal:
        """The nearest valid price."""
        return (Decimal(repr(value)) / self.tick).quantize(Decimal(1), ROUND_HALF_EVEN) * self.tick

    def qty(self, value: float | Decimal) -> Decimal:
        """Rounded down to the step: never more than asked (unchanged without a step)."""
        amount = Decimal(repr(value)) if isinstance(value, float) else value
        if not self.step:
            return amount
        return (amount / self.step).quantize(Decimal(1), ROUND_DOWN) * self.step


def step_of_quantities(quantities: Iterable[float]) -> float | None:
    """The greatest common step of recorded quantities (0.001 for 0.150, 0.137, 2.0), a multiple
    of the symbol's true lot step; None without a positive quantity."""
    units = [round(q * 10**MAX_DECIMALS) for q in quantities if q > 0]
    if not units:
        return None
    common = math.gcd(*units)
    return float(Decimal(common).scaleb(-MAX_DECIMALS))
