"""The risk manager: the gate between a signal and any executor. Every refusal has a reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from strategy.config import RiskParams
from strategy.correlation import Correlations
from strategy.filters import SymbolFilters
from strategy.signals import Side, Signal

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str  # "accepted" or why not
    qty: float = 0.0


class RiskManager:
    """Sizes accepted signals; refuses past the limits.

    Size (`sizing`): "risk" — equity × `risk_per_trade` ÷ |entry − stop|; "margin" — equity ×
    `margin_per_trade_pct` % × `leverage` ÷ entry; "notional" — `fixed_notional` ÷ entry. Then
    shrunk to keep total open notional at most `max_exposure` × equity, and rounded down to the
    symbol's lot step (`filters`; refused as `below_lot_step` when nothing is left).
    Limits: one position per symbol, `max_concurrent` positions, `max_daily[quality]` accepted
    signals per UTC day, a cooldown of `cooldown_ms` after `cooldown_after_losses` losses in a
    row, and (with `max_correlation`) no symbol whose bar returns correlate beyond it with a
    symbol holding a position (`correlations`, fed by the engine at each bar close).
    Equity: the account's balance when an exchange reports one (`balance`), else the starting
    equity + realized PnL (paper, backtest).
    """

    def __init__(self, params: RiskParams, filters: Mapping[str, SymbolFilters] | None = None):
        self.params = params
        self.filters = dict(filters or {})
        self.leverage = params.leverage
        self.balance: float | None = None  # the exchange account's, kept current by its executor
        self.realized = 0.0
        self.open: dict[str, float] = {}  # symbol -> open notional
        self._daily: Counter[tuple[int, str]] = Counter()
        self._losses_in_row = 0
        self._cooldown_until = -1
        self.correlations: Correlations | None = None
        if params.max_correlation:
            self.correlations = Correlations(params.correlation_bars)

    @property
    def equity(self) -> float:
        return self.balance if self.balance is not None else self.params.equity + self.realized

    def decide(self, signal: Signal) -> Decision:
        p = self.params
        if reason := self._refusal(signal):
            return Decision(False, reason)
        room = p.max_exposure * self.equity - sum(self.open.values())
        qty = min(self._size(signal), room / signal.entry)
        if qty <= 0:
            return Decision(False, "max_exposure")
        filters = self.filters.get(signal.symbol)
        if filters is not None:
            qty = float(filters.qty(qty))
            if qty <= 0:
                return Decision(False, "below_lot_step")
        self._daily[(signal.time_ms // DAY_MS, signal.quality.value)] += 1
        self.open[signal.symbol] = qty * signal.entry
        return Decision(True, "accepted", qty)

    def _size(self, signal: Signal) -> float:
        p = self.params
        if p.sizing == "margin":
            return self.equity * p.margin_per_trade_pct / 100 * self.leverage / signal.entry
        if p.sizing == "notional":
            return p.fixed_notional / signal.entry
        return self.equity * p.risk_per_trade / signal.risk_per_unit

    def _refusal(self, signal: Signal) -> str | None:
        p = self.params
        wrong_side = (signal.stop - signal.entry) * signal.side.sign >= 0
        if signal.entry <= 0 or wrong_side or (signal.side is Side.LONG and signal.stop <= 0):
            return "invalid_stop"
        if signal.symbol in self.open:
            return "position_open"
        if len(self.open) >= p.max_concurrent:
            return "max_concurrent"
        if signal.time_ms < self._cooldown_until:
            return "cooldown"
        if self._correlated(signal.symbol):
            return "max_correlation"
        quality = signal.quality.value
        if self._daily[(signal.time_ms // DAY_MS, quality)] >= p.max_daily.get(quality, 0):
            return f"max_daily_{quality.lower()}"
        return None

    def _correlated(self, symbol: str) -> bool:
        if self.correlations is None:
            return False
        limit = self.params.max_correlation
        values = (self.correlations.between(symbol, held) for held in self.open)
        return any(c is not None and abs(c) > limit for c in values)

    def on_closed(self, symbol: str, pnl: float, time_ms: int) -> None:
        """A position is closed (or an entry never filled: pnl 0 and no loss counted)."""
        self.open.pop(symbol, None)
        self.realized += pnl
        if pnl < 0:
            self._losses_in_row += 1
            if self._losses_in_row >= self.params.cooldown_after_losses:
                self._cooldown_until = time_ms + self.params.cooldown_ms
                self._losses_in_row = 0
        elif pnl > 0:
            self._losses_in_row = 0

    def restore(self, open_notional: dict[str, float], day_counts: dict) -> None:
        """Open positions and today's counts after a restart (closed ones go through
        `on_closed`, in exit order)."""
        self.open = dict(open_notional)
        self._daily = Counter(day_counts)
