"""Order-flow delta: normalized delta, CVD (day-anchored and rolling), divergences.

Trade sign s = −1 if is_buyer_maker else +1 (Binance `m=True` is a SELL aggressor).
Bar delta Δ = Σ s·q = buy_volume − sell_volume (see `indicators.bars.Bar.delta`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

DAY_MS = 86_400_000


def trade_sign(is_buyer_maker: bool) -> int:
    """+1 for a buy aggressor, −1 for a sell aggressor (Binance `m=True`)."""
    return -1 if is_buyer_maker else 1


def normalized_delta(buy_volume: float, sell_volume: float) -> float | None:
    """(buy − sell) / (buy + sell) ∈ [−1, 1]; None without volume (0 would mean balanced)."""
    total = buy_volume + sell_volume
    return (buy_volume - sell_volume) / total if total > 0 else None


class Cvd:
    """Cumulative volume delta: CVD_t = Σ_{anchor ≤ τ ≤ t} Δ_τ.

    Feed it signed volume per trade (`-q if m else q`) or one bar delta per bar.
    `anchor="utc_day"` restarts the sum at 00:00 UTC (the first update of a new day
    starts from 0); `anchor="none"` never resets. Only changes of CVD carry meaning.
    """

    __slots__ = ("_day_end", "_sum", "anchor", "ready")

    def __init__(self, anchor: str = "utc_day") -> None:
        if anchor not in ("utc_day", "none"):
            raise ValueError("anchor must be 'utc_day' or 'none'")
        self.anchor = anchor
        self.reset()

    def reset(self) -> None:
        self._sum = 0.0
        # End of the current UTC day; "none" never reaches it. Comparing against it is
        # cheaper than a division per trade.
        self._day_end = -1 if self.anchor == "utc_day" else 2**63
        self.ready = False

    def update(self, time_ms: int, delta: float) -> None:
        if time_ms >= self._day_end:
            self._day_end = time_ms - time_ms % DAY_MS + DAY_MS
            self._sum = 0.0
        self._sum += delta
        self.ready = True

    @property
    def value(self) -> float | None:
        return self._sum if self.ready else None


class RollingCvd:
    """Rolling CVD: CVD_t − CVD_{t−W} = Σ Δ_τ for τ in (t − W, t].

    `value` is None until W has elapsed since the first update: before that the
    difference would silently be a shorter window.
    """

    __slots__ = ("_first_ms", "_items", "_sum", "window_ms")

    def __init__(self, window_ms: int) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be > 0")
        self.window_ms = window_ms
        self.reset()

    def reset(self) -> None:
        self._items: deque[tuple[int, float]] = deque()  # never empty after an update
        self._sum = 0.0
        self._first_ms: int | None = None

    def update(self, time_ms: int, delta: float) -> None:
        items = self._items
        if not items:
            self._first_ms = time_ms
        items.append((time_ms, delta))
        total = self._sum + delta  # a local: the per-trade path avoids attribute stores
        cutoff = time_ms - self.window_ms
        while items[0][0] <= cutoff:
            total -= items.popleft()[1]
        # Running sums drift by float residue; re-anchor when we can.
        self._sum = delta if len(items) == 1 else total

    @property
    def ready(self) -> bool:
        first = self._first_ms  # the latest update is the newest item: it never expires
        return first is not None and self._items[-1][0] - first >= self.window_ms

    @property
    def value(self) -> float | None:
        return self._sum if self.ready else None


class BarDivergence:
    """ATAS `Delta.cs` bar divergence: −1 bearish when close > open and Δ < 0,
    +1 bullish when close < open and Δ > 0, 0 otherwise (doji or agreement)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | None = None

    def reset(self) -> None:
        self.value = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, open_: float, close: float, delta: float) -> int:
        if close > open_ and delta < 0:
            self.value = -1
        elif close < open_ and delta > 0:
            self.value = 1
        else:
            self.value = 0
        return self.value


@dataclass(frozen=True, slots=True)
class SwingDivergenceConfig:
    """[PROPOSAL] parameters of the swing (pivot) divergence; defaults for 1 min bars.

    left, right: a pivot high is strictly above the `left` highs before and the
        `right` highs after it; it is confirmed (and reported) `right` bars later.
    max_gap: the two compared pivots are at most this many bars apart.
    sigma_window, sigma_mult: require |CVD₂ − CVD₁| ≥ sigma_mult·σ(Δ_b) where σ is the
        population std of the last `sigma_window` bar deltas (at least 2 bars).
    """

    left: int = 3
    right: int = 3
    max_gap: int = 60
    sigma_window: int = 60
    sigma_mult: float = 0.5


class Divergence(NamedTuple):
    """A confirmed swing divergence. `sign` is +1 bullish, −1 bearish; `code` tells the
    regular kinds (±1) from the hidden ones (±2). Indexes count bars from 0 since reset;
    `confirmed_index` is the bar at which it became known."""

    kind: str  # regular_bearish, hidden_bearish, regular_bullish, hidden_bullish
    sign: int
    prev_index: int
    index: int
    confirmed_index: int
    prev_price: float
    price: float
    prev_cvd: float
    cvd: float

    @property
    def code(self) -> int:
        """+1 regular bullish (seed 004 §4.1: a lower price low, CVD not lower), −1 regular
        bearish, +2 hidden bullish (higher price low, lower CVD low), −2 hidden bearish."""
        return self.sign if self.kind.startswith("regular") else 2 * self.sign


class _Pivot(NamedTuple):
    index: int
    price: float
    cvd: float


class SwingDivergence:
    """Price-vs-CVD divergence between consecutive swing pivots, without look-ahead.

    Regular bearish: pivot highs H₂ > H₁ with CVD₂ < CVD₁; hidden bearish: H₂ < H₁ with
    CVD₂ > CVD₁. Regular bullish: pivot lows L₂ < L₁ with CVD₂ > CVD₁; hidden bullish:
    L₂ > L₁ with CVD₂ < CVD₁. CVD at a pivot is the CVD at that bar's close. A pivot is
    only known `right` bars after it, so an event is reported at its confirmation bar.
    `value` is the event confirmed by the latest bar, or None; `events` holds all
    (a bar can confirm a pivot high and a pivot low at once). [PROPOSAL]: see config.
    """

    __slots__ = ("_bars", "_deltas", "_high", "_low", "_n", "config", "events")

    def __init__(self, config: SwingDivergenceConfig | None = None) -> None:
        self.config = config or SwingDivergenceConfig()
        self.reset()

    def reset(self) -> None:
        cfg = self.config
        self._bars: deque[tuple[float, float, float]] = deque(maxlen=cfg.left + cfg.right + 1)
        self._deltas: deque[float] = deque(maxlen=cfg.sigma_window)
        self._high: _Pivot | None = None
        self._low: _Pivot | None = None
        self._n = -1
        self.events: tuple[Divergence, ...] = ()

    @property
    def ready(self) -> bool:
        return len(self._bars) == self._bars.maxlen

    @property
    def value(self) -> Divergence | None:
        return self.events[-1] if self.events else None

    def update(self, high: float, low: float, delta: float, cvd: float) -> Divergence | None:
        self._n += 1
        self._bars.append((high, low, cvd))
        self._deltas.append(delta)
        self.events = ()
        if not self.ready:
            return None
        cfg = self.config
        idx = self._n - cfg.right
        h, lo, c = self._bars[cfg.left]
        others = [b for i, b in enumerate(self._bars) if i != cfg.left]
        found: list[Divergence] = []
        if all(h > b[0] for b in others):
            pivot = _Pivot(idx, h, c)
            found += self._compare(self._high, pivot, -1)
            self._high = pivot
        if all(lo < b[1] for b in others):
            pivot = _Pivot(idx, lo, c)
            found += self._compare(self._low, pivot, +1)
            self._low = pivot
        self.events = tuple(found)
        return self.value

    def _compare(self, prev: _Pivot | None, cur: _Pivot, sign: int) -> list[Divergence]:
        """sign −1 compares pivot highs (bearish kinds), +1 pivot lows (bullish kinds)."""
        cfg = self.config
        if prev is None or cur.index - prev.index > cfg.max_gap:
            return []
        d_cvd = cur.cvd - prev.cvd
        sigma = _pstdev(self._deltas)
        if sigma is None or abs(d_cvd) < cfg.sigma_mult * sigma:
            return []
        d_price = cur.price - prev.price
        side = "bearish" if sign < 0 else "bullish"
        if d_price * d_cvd >= 0:  # price and CVD agree (or one is flat): no divergence
            return []
        # Regular: price makes the more extreme pivot (higher high / lower low).
        regular = d_price > 0 if sign < 0 else d_price < 0
        kind = ("regular_" if regular else "hidden_") + side
        return [
            Divergence(
                kind, sign, prev.index, cur.index, self._n, prev.price, cur.price, prev.cvd, cur.cvd
            )
        ]


def _pstdev(values: deque[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / n)
