"""Symbol filters from ``exchangeInfo`` applied to every price and quantity we send (the rounding
itself is strategy/filters.py's, shared with paper trading).

PRICE_FILTER.tickSize, LOT_SIZE (stepSize, minQty, maxQty), MARKET_LOT_SIZE (for MARKET orders)
and MIN_NOTIONAL.notional. ``plan()`` turns a signal and a quantity into exact Decimal prices and
quantities, adjusting what can be adjusted (rounding, a second target too small to split) and
rejecting, with a reason a person can read, what cannot (too small, stop on the wrong side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from strategy.filters import SymbolFilters
from strategy.signals import Side, Signal

__all__ = ["FilterRejected", "Plan", "SymbolFilters", "parse_exchange_info", "plan"]


class FilterRejected(ValueError):
    """The signal cannot be traded within the symbol's filters; the message says why."""


def parse_exchange_info(info: dict[str, Any]) -> dict[str, SymbolFilters]:
    result = {}
    for item in info.get("symbols", []):
        f = {flt["filterType"]: flt for flt in item.get("filters", [])}
        lot = f["LOT_SIZE"]
        market = f.get("MARKET_LOT_SIZE", lot)
        result[item["symbol"]] = SymbolFilters(
            symbol=item["symbol"],
            tick=Decimal(f["PRICE_FILTER"]["tickSize"]),
            step=Decimal(lot["stepSize"]),
            min_qty=Decimal(lot["minQty"]),
            max_qty=Decimal(lot["maxQty"]),
            market_max_qty=Decimal(market["maxQty"]),
            min_notional=Decimal(f.get("MIN_NOTIONAL", {}).get("notional", "0")),
        )
    return result


@dataclass(frozen=True)
class Plan:
    """A signal in exact exchange terms."""

    qty: Decimal
    entry: Decimal  # the LIMIT price, or the reference price of a MARKET entry
    stop: Decimal
    targets: tuple[tuple[Decimal, Decimal], ...]  # (trigger price, quantity), nearest first
    adjustments: list[str] = field(default_factory=list)


def plan(signal: Signal, qty: float, filters: SymbolFilters, market: bool) -> Plan:
    notes: list[str] = []
    entry, stop = filters.price(signal.entry), filters.price(signal.stop)
    targets = [filters.price(t) for t in signal.targets]
    if entry != Decimal(repr(signal.entry)) or stop != Decimal(repr(signal.stop)):
        notes.append(f"prices rounded to tick {filters.tick}")
    sign = signal.side.sign
    if (entry - stop) * sign <= 0:
        raise FilterRejected(f"stop {stop} is not on the losing side of entry {entry}")
    if not targets or any((t - entry) * sign <= 0 for t in targets):
        raise FilterRejected(f"targets {targets} are not on the winning side of entry {entry}")
    amount = filters.qty(qty)
    if amount != Decimal(repr(qty)):
        notes.append(f"quantity {qty} rounded down to step {filters.step}: {amount}")
    cap = filters.market_max_qty if market else filters.max_qty
    if amount > cap:
        notes.append(f"quantity {amount} capped at maxQty {cap}")
        amount = cap
    if amount < filters.min_qty or amount <= 0:
        raise FilterRejected(f"quantity {amount} is below minQty {filters.min_qty}")
    if amount * entry < filters.min_notional:
        raise FilterRejected(
            f"notional {amount * entry} is below MIN_NOTIONAL {filters.min_notional}"
        )
    return Plan(amount, entry, stop, split_targets(targets, amount, filters, notes), notes)


def split_targets(
    targets: list[Decimal], amount: Decimal, filters: SymbolFilters, notes: list[str] | None = None
) -> tuple[tuple[Decimal, Decimal], ...]:
    """Two targets take half each; if a half would be below minQty, the first takes it all."""
    notes = [] if notes is None else notes
    if len(targets) == 1:
        return ((targets[0], amount),)
    first = filters.qty(amount / 2)
    if first < filters.min_qty or amount - first < filters.min_qty:
        notes.append(f"quantity {amount} too small to split: one target at {targets[0]}")
        return ((targets[0], amount),)
    return ((targets[0], first), (targets[1], amount - first))


def close_side(side: Side) -> str:
    return "SELL" if side is Side.LONG else "BUY"


def open_side(side: Side) -> str:
    return "BUY" if side is Side.LONG else "SELL"
