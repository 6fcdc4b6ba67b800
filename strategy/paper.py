"""The paper executor: fills from recorded trades, with fees and slippage.

An accepted signal becomes a pending position that fills at the price of the next recorded trade
of its symbol after the signal (plus slippage against us). Then every trade is checked: the stop
is hit when a trade reaches it (filled at that trade's price, with slippage: gaps through the stop
cost what they cost); a target is hit when a trade reaches it (filled at the target, a resting
limit order). With two targets half the position exits at the first, and — when
`breakeven_after_target1` — the stop moves to the entry price. A position's strategy's exit
rules (strategy/exits.py) move the stop on later trades: to the entry at `breakeven_pct` profit,
behind the best price by `trail_pct` (exit kinds "breakeven" and "trailing").

Prices and quantities are what an exchange would take: with the symbol's filters (strategy/
filters.py) the stop and targets are rounded to the tick, every fill price (slippage included) to
the tick, and the first target's half down to the lot step (the whole position exits there when
half would round to nothing). With `[paper] entry = "limit"` the entry rests at the signal's
price and fills (at that price) when a trade reaches it; not filled `limit_timeout` after the
signal, it is re-placed at the last traded price (`limit_replaces` times; never at or beyond the
stop), then cancelled: the position ends without a trade (`entry_timeout`). `close_stale`
flattens a position at the last price when the symbol's recorded streams went silent (the engine
decides when; see `stale_flatten_ms`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from strategy.config import PaperParams
from strategy.exits import ExitRules, moved_stop, stop_kind
from strategy.filters import SymbolFilters
from strategy.signals import Signal
from strategy.trades import ClosedTrade


@dataclass(frozen=True)
class Fill:
    fill_id: str  # "<position id>:<kind>": a replay writes the same id, never a second fill
    position_id: uuid.UUID
    time_ms: int
    symbol: str
    side: str  # BUY | SELL
    qty: float
    price: float
    fee: float
    kind: str  # entry | stop | breakeven | trailing | target1 | target2 | end_of_data | ...


@dataclass
class Position:
    signal: Signal
    qty: float
    stop: float
    targets: list[float]
    status: str = "pending"  # pending -> open -> closed
    remaining: float = 0.0
    entry_price: float | None = None
    entry_time_ms: int | None = None
    exit_time_ms: int | None = None
    targets_hit: int = 0
    fees: float = 0.0
    realized: float = 0.0  # gross PnL of the exits so far
    exit_notional: float = 0.0
    exit_reason: str | None = None
    fills: list[Fill] = field(default_factory=list)
    exits: ExitRules = field(default_factory=ExitRules)  # breakeven, trailing
    best: float | None = None  # the best trade price since the entry (trailing)
    limit: float | None = None  # a resting LIMIT entry's price ([paper] entry = "limit")
    deadline_ms: int = 0  # ... re-placed or cancelled at the first trade from this time
    replaces: int = 0  # ... re-placements left
    last_price: float | None = None  # ... the newest trade seen while it rests

    @property
    def position_id(self) -> uuid.UUID:
        return self.signal.signal_id

    @property
    def pnl(self) -> float:
        return self.realized - self.fees

    @property
    def exit_price(self) -> float | None:
        """Quantity-weighted price of the exits so far (None before the first)."""
        exited = self.qty - self.remaining
        return self.exit_notional / exited if self.entry_price is not None and exited > 0 else None


class PaperExecutor:
    def __init__(
        self, params: PaperParams, filters: Mapping[str, SymbolFilters] | None = None
    ) -> None:
        self.params = params
        self.filters = dict(filters or {})
        self.positions: dict[str, Position] = {}  # symbol -> pending or open position

    def submit(self, signal: Signal, qty: float, exits: ExitRules | None = None) -> Position:
        stop, targets = signal.stop, list(signal.targets)
        filters = self.filters.get(signal.symbol)
        if filters is not None:
            qty = float(filters.qty(qty))
            stop = float(filters.price(stop))
            targets = [float(filters.price(t)) for t in targets]
        position = Position(signal, qty, stop, targets, exits=exits or ExitRules())
        self.rest_limit(position)
        self.positions[signal.symbol] = position
        return position

    def rest_limit(self, pos: Position) -> None:
        """With LIMIT entries: the pending position's order rests at the signal's price."""
        if self.params.entry == "limit" and pos.status == "pending" and pos.limit is None:
            pos.limit = self._price(pos.signal.entry, pos.signal.symbol)
            pos.deadline_ms = pos.signal.time_ms + self.params.limit_timeout_ms
            pos.replaces = self.params.limit_replaces

    def close_stale(self, symbol: str, time_ms: int, price: float) -> Position | None:
        """Flatten the symbol's open position at `price` (its last trade, with slippage)."""
        pos = self.positions.get(symbol)
        if pos is None or pos.status != "open":
            return None
        fill = self._slipped(price, -pos.signal.side.sign, symbol)
        self._exit(pos, time_ms, fill, pos.remaining, "stale_data")
        return pos

    def on_trade(self, symbol: str, time_ms: int, price: float) -> Position | None:
        """Apply one recorded trade; returns the position if it changed."""
        pos = self.positions.get(symbol)
        if pos is None or time_ms <= pos.signal.time_ms:
            return None
        if pos.status == "pending":
            if pos.limit is None:
                self._enter(pos, time_ms, self._slipped(price, pos.signal.side.sign, symbol))
                return pos
            return self._on_limit(pos, time_ms, price)
        sign = pos.signal.side.sign
        if (price - pos.stop) * sign <= 0:
            kind = _stop_kind(pos, sign)
            self._exit(pos, time_ms, self._slipped(price, -sign, symbol), pos.remaining, kind)
        elif self._target_reached(pos, price, sign):
            self._take_target(pos, time_ms)
        else:
            return pos if self._move_stop(pos, price, sign) else None
        return pos

    def _move_stop(self, pos: Position, price: float, sign: int) -> bool:
        """The exit rules' stop moves (breakeven at a profit, trailing); True if it moved. The
        new stop applies from the next trade on, as a stop order placed now would."""
        assert pos.entry_price is not None
        pos.best = price if pos.best is None else sign * max(sign * pos.best, sign * price)
        stop = moved_stop(pos.exits, sign, pos.entry_price, pos.best, pos.stop,
                          lambda p: self._price(p, pos.signal.symbol))  # fmt: skip
        if stop == pos.stop:
            return False
        pos.stop = stop
        return True

    def close(self, symbol: str, time_ms: int, price: float, reason: str) -> Position | None:
        """Close the symbol's open position at `price` (with slippage) for `reason`."""
        pos = self.positions.get(symbol)
        if pos is None or pos.status != "open":
            return None
        self._exit(pos, time_ms, self._slipped(price, -pos.signal.side.sign, symbol),
                   pos.remaining, reason)  # fmt: skip
        return pos

    def close_all(self, time_ms: int, prices: dict[str, float], reason: str) -> list[Position]:
        """Close open positions at the given prices (the end of a backtest); drop pending ones."""
        closed = []
        for symbol, pos in list(self.positions.items()):
            if pos.status == "open" and symbol in prices:
                side = -pos.signal.side.sign
                fill = self._slipped(prices[symbol], side, symbol)
                self._exit(pos, time_ms, fill, pos.remaining, reason)
                closed.append(pos)
        return closed

    @staticmethod
    def _target_reached(pos: Position, price: float, sign: int) -> bool:
        hit = pos.targets_hit
        return hit < len(pos.targets) and (price - pos.targets[hit]) * sign >= 0

    def _on_limit(self, pos: Position, time_ms: int, price: float) -> Position | None:
        """A resting LIMIT entry and one trade: re-placed or cancelled past its deadline, then
        filled at its price when the trade reaches it."""
        sign, changed = pos.signal.side.sign, False
        while time_ms >= pos.deadline_ms:
            new = pos.last_price if pos.last_price is not None else price
            if pos.replaces <= 0 or (new - pos.stop) * sign <= 0:
                pos.status, pos.exit_reason, pos.exit_time_ms = "closed", "entry_timeout", time_ms
                del self.positions[pos.signal.symbol]
                return pos
            pos.limit = self._price(new, pos.signal.symbol)
            pos.deadline_ms += self.params.limit_timeout_ms
            pos.replaces -= 1
            changed = True
        pos.last_price = price
        assert pos.limit is not None
        if (price - pos.limit) * sign <= 0:
            self._enter(pos, time_ms, pos.limit)
            return pos
        return pos if changed else None

    def _enter(self, pos: Position, time_ms: int, fill_price: float) -> None:
        sign = pos.signal.side.sign
        pos.status, pos.entry_price, pos.entry_time_ms = "open", fill_price, time_ms
        pos.remaining = pos.qty
        self._record(pos, time_ms, sign, pos.qty, fill_price, "entry")

    def _take_target(self, pos: Position, time_ms: int) -> None:
        index = pos.targets_hit
        last = index == len(pos.targets) - 1
        qty = pos.remaining if last else self._part(pos)
        if qty <= 0:  # half rounds to nothing on the lot step: all of it at this target
            qty, last = pos.remaining, True
            pos.targets_hit = len(pos.targets) - 1
        pos.targets_hit += 1
        self._exit(pos, time_ms, pos.targets[index], qty, f"target{index + 1}")
        if not last and self.params.breakeven_after_target1 and pos.entry_price is not None:
            pos.stop = pos.entry_price

    def _exit(self, pos: Position, time_ms: int, price: float, qty: float, kind: str) -> None:
        sign = pos.signal.side.sign
        assert pos.entry_price is not None
        pos.realized += (price - pos.entry_price) * qty * sign
        pos.exit_notional += price * qty
        pos.remaining -= qty
        self._record(pos, time_ms, -sign, qty, price, kind)
        if pos.remaining <= pos.qty * 1e-9:
            pos.status, pos.exit_time_ms, pos.remaining = "closed", time_ms, 0.0
            pos.exit_reason = "target" if kind.startswith("target") else kind
            del self.positions[pos.signal.symbol]

    def _record(self, pos: Position, time_ms: int, sign: int, qty: float, price: float, kind: str):
        fee = price * qty * self.params.fee_bps * 1e-4
        pos.fees += fee
        side = "BUY" if sign > 0 else "SELL"
        fill = Fill(f"{pos.position_id}:{kind}", pos.position_id, time_ms, pos.signal.symbol,
                    side, qty, price, fee, kind)  # fmt: skip
        pos.fills.append(fill)

    def _part(self, pos: Position) -> float:
        """One target's share of the position, down to the lot step."""
        share = pos.qty / len(pos.targets)
        filters = self.filters.get(pos.signal.symbol)
        return share if filters is None else float(filters.qty(share))

    def _price(self, price: float, symbol: str) -> float:
        filters = self.filters.get(symbol)
        return price if filters is None else float(filters.price(price))

    def _slipped(self, price: float, sign: int, symbol: str) -> float:
        slipped = price * (1 + sign * self.params.slippage_bps * 1e-4)
        filters = self.filters.get(symbol)
        return slipped if filters is None else float(filters.price(slipped))


def _stop_kind(pos: Position, sign: int) -> str:
    assert pos.entry_price is not None
    return stop_kind(pos.exits, sign, pos.entry_price, pos.stop)


def closed_trade(pos: Position) -> ClosedTrade:
    s = pos.signal
    assert pos.entry_price is not None and pos.entry_time_ms is not None
    assert pos.exit_time_ms is not None and pos.exit_reason is not None
    assert pos.exit_price is not None
    return ClosedTrade(
        signal_id=s.signal_id,
        symbol=s.symbol,
        strategy=s.strategy,
        side=s.side,
        quality=s.quality,
        entry_time_ms=pos.entry_time_ms,
        exit_time_ms=pos.exit_time_ms,
        entry_price=pos.entry_price,
        exit_price=pos.exit_price,
        qty=pos.qty,
        fees=pos.fees,
        pnl=pos.pnl,
        exit_reason=pos.exit_reason,
    )
