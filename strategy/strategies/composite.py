"""The composite order-flow strategy of seed 004 §4.8: buy absorption at a bid wall after a panic.

LONG, all required (mirrored for SHORT: short squeeze, ask wall, buys absorbed):
1. Context — within the last `context_window_bars`: a long-liquidation cascade (`cascade_side`
   −1) that is now exhausted, and/or a panic-selling bar (`panic_score` ≥ `panic_score_min` with
   `panic_direction` −1). A same-side cascade still running (not exhausted) vetoes the entry:
   the strategy fires AFTER the cascade's exhaustion, never into it.
2. Wall — a persistent bid wall within `wall_max_bps` of the mid (seed: `dist_to_buy_wall` < 0.5%).
3. Absorption — sells are being absorbed: `absorption_side` −1 with `absorption` ≥
   `absorption_min`, and the bar's low is not below the wall (`wall_tolerance_bps`).
4. Filter — the book is not strongly against the trade: `imbalance` ≥ `imbalance_floor` (§4.5).
Confirmations (scored, not required): positive book imbalance, footprint buy imbalances and a
regular bullish delta divergence (a lower price low, CVD not lower; `divergence` +1) within
the last `confirm_bars` bars — a hidden divergence (±2) does not count.

With `require_confirmations` (seed 004 §4.8 as written: confirmations №1, №2 and the final
trigger) all three are required, not only scored. Filters (§4.2, §4.8.3): no entry while the
bar's `panic_score` is above `panic_max` (the panic has not yet turned down from its peak) or
when the thinner side of the book holds less than `min_book_notional` quote within
`liquidity_band_bps` of the mid (low liquidity); both off by default.

Stop: below the lower of the wall and the lowest low of the last `confirm_bars` bars, by
`stop_buffer_bps`. Targets: `targets_r` multiples of the stop distance.

Score (0–100) [PROPOSAL; the seed names the ingredients, not weights]: exhausted cascade 25,
panic 15, wall proximity up to 10 (linear in distance), absorption up to 15 (saturating at
2 × `absorption_min`), imbalance up to 10 (saturating at 0.5), footprint imbalances up to 10
(3 bars with one), bullish divergence 15. HIGH ≥ `high_score`, MEDIUM ≥ `medium_score`.
Each context (one cascade, or one run of panic bars) gives at most one signal per side, and
signals are at least `cooldown_bars` apart.

[PROPOSAL] defaults are for 1 min bars: `absorption_min` 1.0 reads "at least the recent typical
dominant-side volume, with no progress", which right after a panic (whose huge volume is the
baseline) is already heavy absorption.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from strategy.signals import Side, Signal
from strategy.snapshot import Snapshot
from strategy.strategies.base import (
    Spacing,
    check_exits,
    check_param,
    make_signal,
    quality_of,
    resolve_params,
)


@dataclass(frozen=True)
class CompositeParams:
    context_window_bars: int = 60  # how long a panic or a cascade stays the context
    panic_score_min: float = 0.95  # "panic index at its peak" (ECDF score)
    wall_max_bps: float = 50.0  # seed: dist_to_buy_wall < 0.5 %
    wall_tolerance_bps: float = 2.0  # how far below the wall the bar may trade and still hold
    absorption_min: float = 1.0  # AS_simple on the absorbed side
    imbalance_floor: float = -0.2  # never buy into a book this heavy on the other side
    confirm_bars: int = 5  # confirmations and the stop's low look this far back
    stop_buffer_bps: float = 5.0
    targets_r: tuple[float, ...] = (1.5, 3.0)
    cooldown_bars: int = 30
    high_score: float = 75.0
    medium_score: float = 55.0
    require_confirmations: bool = False
    panic_max: float = 1.0  # 1: off (an ECDF score is at most 1)
    min_book_notional: float = 0.0
    liquidity_band_bps: float = 50.0

    def __post_init__(self) -> None:
        name = CompositeStrategy.name
        targets = check_exits(name, self.targets_r, self.cooldown_bars)
        object.__setattr__(self, "targets_r", targets)
        check_param(self.context_window_bars >= 1, name, "context_window_bars", ">= 1")
        check_param(self.confirm_bars >= 1, name, "confirm_bars", ">= 1")
        check_param(self.wall_max_bps > 0, name, "wall_max_bps", "> 0")
        check_param(self.stop_buffer_bps > 0, name, "stop_buffer_bps", "> 0")
        check_param(self.absorption_min > 0, name, "absorption_min", "> 0")


class _View(NamedTuple):
    """The side-specific values of one snapshot, seen from a LONG (sign +1) or a SHORT (−1)."""

    wall: float | None
    wall_bps: float | None
    absorbing: bool  # the other side's aggression is being absorbed
    extreme: float  # the bar's low (LONG) or high (SHORT)
    imbalance: float | None  # signed so that positive favours the trade


def _view(snap: Snapshot, sign: int) -> _View:
    imbalance = None if snap.imbalance is None else sign * snap.imbalance
    if sign > 0:
        wall, bps, extreme = snap.bid_wall_price, snap.bid_wall_bps, snap.low
    else:
        wall, bps, extreme = snap.ask_wall_price, snap.ask_wall_bps, snap.high
    assert extreme is not None
    return _View(wall, bps, snap.absorption_side == -sign, extreme, imbalance)


class CompositeStrategy:
    name: ClassVar[str] = "composite"

    def __init__(self, symbol: str, params: dict[str, Any] | CompositeParams) -> None:
        self.symbol = symbol
        self.params = resolve_params(CompositeParams, self.name, params)
        self.recent: deque[Snapshot] = deque(maxlen=self.params.confirm_bars)
        self.spacing = Spacing(self.params.cooldown_bars)
        # Per panic direction (−1 selling, +1 squeeze): last panic bar, start of its run.
        self._panic_last: dict[int, int] = {}
        self._panic_start: dict[int, int] = {}
        self._used: dict[int, tuple[str, int]] = {}  # per trade sign: the context last fired on

    def on_bar(self, snap: Snapshot) -> Signal | None:
        self._track_panic(snap)
        if snap.close is None or snap.trades == 0:
            return None  # nothing traded: no absorption to read
        self.recent.append(snap)
        if not self.spacing.allows(snap):
            return None
        for side in (Side.LONG, Side.SHORT):
            signal = self._evaluate(snap, side)
            if signal is not None:
                self.spacing.mark(snap)
                return signal
        return None

    def _track_panic(self, snap: Snapshot) -> None:
        score, direction = snap.panic_score, snap.panic_direction
        if score is None or score < self.params.panic_score_min or direction == 0:
            return
        last = self._panic_last.get(direction)
        if last is None or snap.time_ms - last > self._window_ms(snap):
            self._panic_start[direction] = snap.time_ms
        self._panic_last[direction] = snap.time_ms

    def _window_ms(self, snap: Snapshot) -> int:
        return self.params.context_window_bars * snap.bar_ms

    def _context(self, snap: Snapshot, sign: int) -> tuple[tuple[str, int], bool, bool] | None:
        """(context key, exhausted cascade?, panic?) for a trade of `sign`, or None."""
        against = -sign  # a LONG follows a cascade of long liquidations (side −1)
        oldest = snap.time_ms - self._window_ms(snap)
        start = snap.cascade_start_ms if snap.cascade_side == against else None
        if start is not None and not snap.cascade_exhausted:
            return None  # still cascading: wait for the exhaustion
        panic = self._panic_last.get(against, oldest - 1) >= oldest
        if start is not None and start >= oldest:
            return ("cascade", start), True, panic
        if panic:
            return ("panic", self._panic_start[against]), False, True
        return None

    def _evaluate(self, snap: Snapshot, side: Side) -> Signal | None:
        p, sign = self.params, side.sign
        context = self._context(snap, sign)
        if context is None or self._used.get(sign) == context[0]:
            return None
        view = _view(snap, sign)
        if view.wall is None or view.wall_bps is None or view.wall_bps > p.wall_max_bps:
            return None
        strength = snap.absorption or 0.0
        if not view.absorbing or strength < p.absorption_min:
            return None
        if sign * (view.extreme - view.wall) < -view.wall * p.wall_tolerance_bps * 1e-4:
            return None  # traded through the wall: it did not hold
        if view.imbalance is None or view.imbalance < p.imbalance_floor:
            return None
        if not self._filters_pass(snap) or not self._confirmed(sign, view):
            return None
        close = snap.close
        assert close is not None
        views = [_view(s, sign) for s in self.recent]
        worst = min(sign * v.extreme for v in views) * sign
        anchor = min(sign * view.wall, sign * worst) * sign
        stop = anchor * (1 - sign * p.stop_buffer_bps * 1e-4)
        if sign * (close - stop) <= 0:
            return None
        score, reasons = self._score(snap, sign, context[1], context[2], view, strength)
        self._used[sign] = context[0]
        quality = quality_of(score, p.high_score, p.medium_score)
        return make_signal(snap, self.name, side, stop, p.targets_r, score, quality, reasons)

    def _filters_pass(self, snap: Snapshot) -> bool:
        p = self.params
        if snap.panic_score is not None and snap.panic_score > p.panic_max:
            return False
        if not p.min_book_notional:
            return True
        if snap.book is None or snap.best_bid is None or snap.best_ask is None:
            return False
        tick, mid = snap.tick_size, (snap.best_bid + snap.best_ask) / 2
        band = mid * p.liquidity_band_bps * 1e-4
        depth = [
            sum(lv.ticks * tick * lv.qty for lv in side if abs(lv.ticks * tick - mid) <= band)
            for side in (snap.book.bids, snap.book.asks)
        ]
        return min(depth) >= p.min_book_notional

    def _confirmed(self, sign: int, view: _View) -> bool:
        """§4.8's confirmations, when required: the book leans our way, a footprint spike on
        our side and a regular delta divergence our way within the last `confirm_bars`."""
        if not self.params.require_confirmations:
            return True
        footprint = any((s.fp_buy_imbalances if sign > 0 else s.fp_sell_imbalances)
                        for s in self.recent)  # fmt: skip
        divergence = any(s.divergence == sign for s in self.recent)
        return (view.imbalance or 0.0) > 0 and footprint and divergence

    def _score(
        self,
        snap: Snapshot,
        sign: int,
        cascade: bool,
        panic: bool,
        view: _View,
        strength: float,
    ) -> tuple[float, dict[str, float | int | str | bool | None]]:
        p = self.params
        fp_bars = sum(
            1 for s in self.recent if (s.fp_buy_imbalances if sign > 0 else s.fp_sell_imbalances)
        )
        divergence = any(s.divergence == sign for s in self.recent)
        assert view.wall_bps is not None and view.imbalance is not None
        score = 25.0 * cascade + 15.0 * panic
        score += 10.0 * max(0.0, 1.0 - view.wall_bps / p.wall_max_bps)
        score += 15.0 * min(strength / (2 * p.absorption_min), 1.0)
        score += 10.0 * min(max(view.imbalance, 0.0) / 0.5, 1.0)
        score += 10.0 * min(fp_bars / 3, 1.0) + 15.0 * divergence
        reasons: dict[str, float | int | str | bool | None] = {
            # the bar's own cascade state, as its `indicators` row has it ...
            "cascade_side": snap.cascade_side,
            "cascade_exhausted": snap.cascade_exhausted,
            "cascade_start_ms": snap.cascade_start_ms,
            "cascade_exhaustion": snap.cascade_exhaustion,
            # ... and whether an exhausted cascade against the trade scored as the context
            "cascade_context": cascade,
            "panic": panic,
            "panic_score": snap.panic_score,
            "wall_price": view.wall,
            "wall_bps": view.wall_bps,
            "absorption": strength,
            "absorption_side": snap.absorption_side,
            "absorption_price": snap.absorption_price,
            "imbalance": snap.imbalance,
            "fp_imbalance_bars": fp_bars,
            "divergence": divergence,
        }
        return score, reasons
