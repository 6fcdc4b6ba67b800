"""Panic index: how extreme are volatility, volume (and liquidations) right now.

[PROPOSAL] built from rigorously defined parts (parameters in `PanicConfig`). Per bar:

    z(x)        = (x − median(base)) / (1.4826 · max(MAD(base), ε·median(base)))
    PanicRaw    = Σ_k w_k · min(max(0, z_k), z_max) / Σ_k w_k   over defined components
    PanicScore  = empirical CDF of PanicRaw: share of the previous `cdf_window` raw
                  values ≤ the current one ∈ [0, 1] (alert at ≥ 0.99)
    direction   = sign of the bar return (−1 panic selling, +1 short-squeeze panic)

Components k: realized volatility, volume, and optionally liquidation notional. Each
baseline `base` is the previous `baseline_bars` values of that component (the current
bar is not part of its own baseline). A component whose baseline is not full yet makes
the whole raw value None; a component whose z is undefined (flat zero baseline: MAD
and median both 0) is left out and the weights renormalise over the rest.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass

MAD_SCALE = 1.4826  # makes the MAD a consistent estimator of σ for normal data


def parkinson_volatility(high: float, low: float) -> float | None:
    """σ_P = sqrt((ln(H/L))² / (4 ln 2)); 0 when H = L, None for non-positive prices."""
    if low <= 0 or high < low:
        return None
    return abs(math.log(high / low)) / math.sqrt(4.0 * math.log(2.0))


def robust_z(x: float, baseline: list[float], mad_floor_frac: float = 0.0) -> float | None:
    """(x − median) / (1.4826·max(MAD, ε·median)); None for an empty baseline or a
    zero scale."""
    if not baseline:
        return None
    ordered = sorted(baseline)
    med = _median_sorted(ordered)
    mad = _median_sorted(sorted(abs(v - med) for v in ordered))
    scale = max(mad, mad_floor_frac * abs(med))
    if scale <= 0:
        return None
    return (x - med) / (MAD_SCALE * scale)


class RealizedVolatility:
    """RV = sqrt(Σ r²) of log returns between consecutive samples (e.g. 1 s closes).

    `roll()` ends a bar: it returns the bar's RV and starts the next from the last
    price, so the first return of a bar spans the bar boundary. None without a return.
    """

    __slots__ = ("_last", "_n", "_sum")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._last: float | None = None
        self._sum = 0.0
        self._n = 0

    @property
    def ready(self) -> bool:
        return self._n > 0

    @property
    def value(self) -> float | None:
        return math.sqrt(self._sum) if self._n else None

    def update(self, price: float) -> None:
        if self._last is not None:
            r = math.log(price / self._last)
            self._sum += r * r
            self._n += 1
        self._last = price

    def roll(self) -> float | None:
        value = self.value
        self._sum, self._n = 0.0, 0
        return value


@dataclass(frozen=True, slots=True)
class PanicConfig:
    """[PROPOSAL] defaults for 1 min bars: a one-day baseline, equal weights
    (rv, volume, liquidation), z clipped at 10, ε = 1% of the median as MAD floor,
    a 30-day ECDF that needs one day of history before it scores."""

    baseline_bars: int = 1440
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    z_max: float | None = 10.0
    mad_floor_frac: float = 0.01
    cdf_window: int = 43_200
    cdf_min_samples: int = 1440


class PanicIndex:
    """Incremental panic index; see the module docstring. `value` is PanicRaw,
    `score` its ECDF score, `direction` the sign of the bar return, `z` the component
    z-scores (rv, volume, liquidation) of the latest bar."""

    __slots__ = (
        "_bases",
        "_cdf_sorted",
        "_cdf_window",
        "config",
        "direction",
        "score",
        "value",
        "z",
    )

    def __init__(self, config: PanicConfig | None = None) -> None:
        self.config = config or PanicConfig()
        self.reset()

    def reset(self) -> None:
        n = self.config.baseline_bars
        self._bases: tuple[deque[float], ...] = tuple(deque(maxlen=n) for _ in range(3))
        self._cdf_window: deque[float] = deque()
        self._cdf_sorted: list[float] = []
        self.value: float | None = None
        self.score: float | None = None
        self.direction = 0
        self.z: tuple[float | None, ...] = (None, None, None)

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(
        self,
        rv: float,
        volume: float,
        bar_return: float,
        liquidation_notional: float | None = None,
    ) -> float | None:
        """Feed one bar's realized volatility, volume, return and (optionally)
        liquidation notional; return PanicRaw."""
        xs = (rv, volume, liquidation_notional)
        zs = tuple(self._z(base, x) for base, x in zip(self._bases, xs, strict=True))
        self.z = zs
        warming = any(
            x is not None and len(base) < self.config.baseline_bars
            for base, x in zip(self._bases, xs, strict=True)
        )
        self.value = None if warming else self._combine(zs)
        self.score = self._score(self.value)
        self.direction = (bar_return > 0) - (bar_return < 0)
        for base, x in zip(self._bases, xs, strict=True):
            if x is not None:
                base.append(x)
        return self.value

    def _z(self, base: deque[float], x: float | None) -> float | None:
        if x is None or len(base) < self.config.baseline_bars:
            return None
        return robust_z(x, list(base), self.config.mad_floor_frac)

    def _combine(self, zs: tuple[float | None, ...]) -> float | None:
        z_max = self.config.z_max
        total = weight = 0.0
        for w, z in zip(self.config.weights, zs, strict=True):
            if z is None:
                continue
            clipped = max(0.0, z) if z_max is None else min(max(0.0, z), z_max)
            total += w * clipped
            weight += w
        return total / weight if weight > 0 else None

    def _score(self, raw: float | None) -> float | None:
        if raw is None:
            return None
        ordered, window = self._cdf_sorted, self._cdf_window
        score = None
        if len(ordered) >= self.config.cdf_min_samples and ordered:
            score = bisect_right(ordered, raw) / len(ordered)
        window.append(raw)
        insort(ordered, raw)
        if len(window) > self.config.cdf_window:
            old = window.popleft()
            del ordered[bisect_right(ordered, old) - 1]
        return score


def _median_sorted(s: list[float]) -> float:
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
