"""Absorption strength: heavy one-sided aggression that makes little price progress.

[PROPOSAL] (tool conventions agree on the idea, not on a formula; see `AbsorptionConfig`).
One window is one bar (e.g. 10 s time bars). With side = sign(Δ) of the window:

    V_side      = aggressor volume on `side` in the window
    V_ref       = median of the dominant-side volume max(buy, sell) of the previous
                  `ref_windows` windows
    prog_ticks  = max(0, side·(close − open)) / tick   progress in the aggression direction
    AS_simple   = (V_side / V_ref) / (1 + prog_ticks)    ≥ 0, > ~2 is notable
    AS_impact   = clip(1 − prog_ticks / (λ̂·|Δ|), 0, 1)
    λ̂           = OLS slope of (close − open) in ticks on Δ over the previous
                  `lambda_windows` windows (Kyle's λ, ticks per unit of volume)

Progress, not range, because a 1-tick range is normal in one-tick-wide markets.
`signed` = side·AS_simple follows the project seed: strongly negative means sells are
being absorbed (a bid is soaking them up), strongly positive means buys are.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from indicators.bars import Bar


def absorption_simple(v_side: float, v_ref: float, prog_ticks: float) -> float | None:
    """(V_side / V_ref) / (1 + prog_ticks); None when V_ref ≤ 0 (no baseline)."""
    if v_ref <= 0:
        return None
    return (v_side / v_ref) / (1.0 + prog_ticks)


def absorption_impact(prog_ticks: float, lam: float | None, delta: float) -> float | None:
    """clip(1 − prog_ticks / (λ̂·|Δ|), 0, 1); None when λ̂ is unknown or ≤ 0, or Δ = 0."""
    if lam is None or lam <= 0 or delta == 0:
        return None
    expected = lam * abs(delta)
    return min(1.0, max(0.0, 1.0 - prog_ticks / expected))


def kyle_lambda(deltas: deque[float], moves: deque[float]) -> float | None:
    """OLS slope of price move on signed volume; None when Δ has no variance."""
    n = len(deltas)
    if n < 2:
        return None
    mx, my = sum(deltas) / n, sum(moves) / n
    sxx = sum((x - mx) ** 2 for x in deltas)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(deltas, moves, strict=True))
    return sxy / sxx


@dataclass(frozen=True, slots=True)
class AbsorptionConfig:
    """[PROPOSAL] windows of history: 60 for the volume baseline, 60 for λ̂."""

    ref_windows: int = 60
    lambda_windows: int = 60


class Absorption:
    """Absorption strength per window (bar). `value` is AS_simple (None while the
    baseline warms up or when buy and sell volume are equal: no dominant side; 0 for
    an empty window). `impact` is AS_impact, `side` ±1 (0 without a dominant side),
    `price` the window VWAP and `modal_price` its highest-volume footprint row."""

    __slots__ = (
        "_dominant",
        "_lam_x",
        "_lam_y",
        "config",
        "impact",
        "lambda_",
        "modal_price",
        "price",
        "side",
        "value",
    )

    def __init__(self, config: AbsorptionConfig | None = None) -> None:
        self.config = config or AbsorptionConfig()
        self.reset()

    def reset(self) -> None:
        cfg = self.config
        self._dominant: deque[float] = deque(maxlen=cfg.ref_windows)
        self._lam_x: deque[float] = deque(maxlen=cfg.lambda_windows)
        self._lam_y: deque[float] = deque(maxlen=cfg.lambda_windows)
        self.value: float | None = None
        self.impact: float | None = None
        self.lambda_: float | None = None
        self.side = 0
        self.price: float | None = None
        self.modal_price: float | None = None

    @property
    def ready(self) -> bool:
        return len(self._dominant) == self._dominant.maxlen

    @property
    def signed(self) -> float | None:
        return None if self.value is None else self.side * self.value

    def update(self, bar: Bar) -> float | None:
        tick = bar.footprint.tick_size
        delta = bar.delta
        side = (delta > 0) - (delta < 0)
        move = round(bar.close / tick) - round(bar.open / tick)
        prog = max(0, side * move)
        v_side = bar.buy_volume if side > 0 else bar.sell_volume
        self.lambda_ = self._estimate_lambda()
        if not self.ready:
            self.value = None
        elif bar.volume == 0:
            self.value = 0.0
        elif side == 0:
            self.value = None
        else:
            self.value = absorption_simple(v_side, _median(self._dominant), prog)
        self.impact = absorption_impact(prog, self.lambda_, delta)
        self.side = side
        self.price = bar.vwap
        self.modal_price = _modal_price(bar)
        self._dominant.append(max(bar.buy_volume, bar.sell_volume))
        self._lam_x.append(delta)
        self._lam_y.append(move)
        return self.value

    def _estimate_lambda(self) -> float | None:
        if len(self._lam_x) < self.config.lambda_windows:
            return None
        return kyle_lambda(self._lam_x, self._lam_y)


def _median(values: deque[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _modal_price(bar: Bar) -> float | None:
    rows = bar.footprint.rows
    if not rows:
        return None
    row = max(rows, key=lambda r: rows[r][0] + rows[r][1])
    return bar.footprint.row_price(row)
