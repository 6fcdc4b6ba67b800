"""Liquidation cascades and their exhaustion: model-free and exponential-Hawkes forms.

Data caveat: Binance's `<symbol>@forceOrder` / `!forceOrder@arr` streams are SAMPLED
snapshots ("only the latest one liquidation order within 1000ms will be pushed"), so at
most one event per symbol per second reaches us. Counts and notional built from it are
a LOWER BOUND and a burst inside one second looks like one event; that is why both
detectors here weight by filled notional (z·ap) rather than by event count.
Side: a SELL liquidation closes a long (forced selling, price down): side −1; a BUY
liquidation closes a short (squeeze, price up): side +1.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass


def branching_ratio_estimate(mean: float, variance: float) -> float | None:
    """Hardiman–Bouchaud model-free branching ratio n̂ = 1 − sqrt(E[N] / Var[N]) from
    event counts in large windows; None unless both moments are positive."""
    if mean <= 0 or variance <= 0:
        return None
    return 1.0 - math.sqrt(mean / variance)


@dataclass(frozen=True, slots=True)
class HawkesConfig:
    """[PROPOSAL] exponential-kernel Hawkes parameters (fit them per symbol offline,
    e.g. with `tick.hawkes`); the defaults are the reference's test values.

    mu: baseline intensity (events/s); alpha: jump per unit-weight event; beta: decay
    (1/s), half-life ln 2/β; notional_unit: an event weighs notional/notional_unit
    (None: every event weighs 1); start_ratio: an episode starts when λ ≥ start_ratio·μ;
    exhausted_at: the exhaustion score at which the episode counts as exhausted.
    """

    mu: float = 0.1
    alpha: float = 0.8
    beta: float = 1.0
    notional_unit: float | None = None
    start_ratio: float = 10.0
    exhausted_at: float = 0.8


class HawkesCascade:
    """λ(t) = μ + Σ_{t_i ≤ t} α·w_i·e^{−β(t − t_i)}; excess(t) = λ(t) − μ.

    An episode starts when an event lifts λ to ≥ start_ratio·μ (again after the previous
    one is exhausted); its exhaustion is E(t) = 1 − excess(t) / peak excess of the
    episode, which with no new events is exactly 1 − e^{−βΔt} after the peak. Once
    exhausted an episode stays so until the next one starts: later events below the start
    level lower E but do not revive it (as `CascadeDetector`).
    `value` is λ at the latest time seen (an event or `advance`), None before any event.
    """

    __slots__ = ("_ended", "_excess", "_last_ms", "_peak", "config", "start_ms")

    def __init__(self, config: HawkesConfig | None = None) -> None:
        self.config = config or HawkesConfig()
        self.reset()

    def reset(self) -> None:
        self._excess = 0.0
        self._last_ms: int | None = None
        self._peak: float | None = None
        self._ended = False  # the episode reached exhaustion
        self.start_ms: int | None = None

    @property
    def branching_ratio(self) -> float:
        """n = α/β (< 1 for a stationary process)."""
        return self.config.alpha / self.config.beta

    @property
    def ready(self) -> bool:
        return self._last_ms is not None

    @property
    def value(self) -> float | None:
        return self.config.mu + self._excess if self._last_ms is not None else None

    @property
    def excess(self) -> float | None:
        return self._excess if self._last_ms is not None else None

    @property
    def exhaustion(self) -> float | None:
        """1 − excess / peak excess of the current episode; None without an episode."""
        if self._peak is None:
            return None
        return 1.0 - self._excess / self._peak

    @property
    def exhausted(self) -> bool:
        e = self.exhaustion
        return self._ended or (e is not None and e >= self.config.exhausted_at)

    def advance(self, time_ms: int) -> float | None:
        """Let the intensity decay to `time_ms` (no event)."""
        if self._last_ms is not None and time_ms > self._last_ms:
            self._excess *= math.exp(-self.config.beta * (time_ms - self._last_ms) / 1000.0)
            self._last_ms = time_ms
        self._ended = self.exhausted
        return self.value

    def update(self, time_ms: int, notional: float | None = None) -> float | None:
        """One liquidation at `time_ms`; λ returned includes its own jump."""
        cfg = self.config
        self.advance(time_ms)
        if self._last_ms is None:
            self._last_ms = time_ms
        weight = 1.0
        if cfg.notional_unit is not None and notional is not None:
            weight = notional / cfg.notional_unit
        was_exhausted = self._peak is None or self.exhausted
        self._excess += cfg.alpha * weight
        if was_exhausted and cfg.mu + self._excess >= cfg.start_ratio * cfg.mu:
            self._peak, self.start_ms, self._ended = self._excess, time_ms, False
        elif self._peak is not None and self._excess > self._peak:
            self._peak = self._excess
        return self.value


@dataclass(frozen=True, slots=True)
class CascadeConfig:
    """[PROPOSAL] model-free cascade parameters (one update per second).

    k_start: start when L ≥ k_start × baseline; baseline_s: seconds of history whose
    median is the baseline, floored at `min_notional` (quote units);
    ewma_half_life_s: EWMA smoothing of L (None: raw per-second notional);
    exhausted_at: E threshold; no_new_extreme_s: and no new price extreme in the cascade
    direction for that long; price_sigma_mult: also require |60 s log return| ≥
    m·σ₁ₛ·sqrt(60) with σ₁ₛ the std of 1 s log returns over sigma_window_s (None
    disables the price conditions).
    """

    k_start: float = 10.0
    baseline_s: int = 86_400
    min_notional: float = 1000.0
    ewma_half_life_s: float | None = 5.0
    exhausted_at: float = 0.8
    no_new_extreme_s: int = 30
    price_sigma_mult: float | None = 3.0
    return_window_s: int = 60
    sigma_window_s: int = 3600


class _RollingMedian:
    __slots__ = ("_sorted", "_window")

    def __init__(self, size: int) -> None:
        self._window: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []

    def push(self, x: float) -> None:
        if len(self._window) == self._window.maxlen:
            old = self._window[0]
            del self._sorted[bisect_right(self._sorted, old) - 1]
        self._window.append(x)
        insort(self._sorted, x)

    def median(self) -> float | None:
        s, n = self._sorted, len(self._sorted)
        if n == 0:
            return None
        return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


class CascadeDetector:
    """Model-free liquidation cascade detector, fed one second at a time.

    L_t per side = liquidation notional in the second (EWMA-smoothed if configured).
    Start: L_side ≥ k_start·max(median(L_side over the prior baseline_s), min_notional)
    and (if enabled) the 60 s price move condition. A start on the other side begins a
    new cascade at once; on the same side only once the running cascade is exhausted and
    L is rising again (a new burst, not the decaying tail of the old one).
    Exhaustion E_t = 1 − L_t / max(L since start) ∈ [0, 1]; `exhausted` when
    E ≥ exhausted_at and (with prices) no new extreme for no_new_extreme_s. Exhaustion
    ends the cascade: `exhausted` stays True until the next start, so a later same-side
    burst below the start threshold lowers E (still measured against the old peak) but
    does not revive the old cascade, and one that reaches the threshold starts a new one.
    `value` is E of the latest cascade, None before the first one.
    """

    __slots__ = (
        "_extreme",
        "_extreme_ms",
        "_level",
        "_medians",
        "_peak",
        "_prev_levels",
        "_prices",
        "_returns",
        "config",
        "exhausted",
        "side",
        "start_ms",
        "value",
    )

    def __init__(self, config: CascadeConfig | None = None) -> None:
        self.config = config or CascadeConfig()
        self.reset()

    def reset(self) -> None:
        cfg = self.config
        self._level = [0.0, 0.0]  # smoothed L: [long liquidations (sell), short (buy)]
        self._prev_levels = (0.0, 0.0)
        self._medians = (_RollingMedian(cfg.baseline_s), _RollingMedian(cfg.baseline_s))
        self._prices: deque[float] = deque(maxlen=cfg.return_window_s)
        self._returns: deque[float] = deque(maxlen=cfg.sigma_window_s)
        self._peak = 0.0
        self._extreme: float | None = None
        self._extreme_ms = 0
        self.value: float | None = None
        self.side = 0
        self.start_ms: int | None = None
        self.exhausted = False

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(
        self, time_ms: int, sell_notional: float, buy_notional: float, price: float | None = None
    ) -> float | None:
        """Feed one second: liquidation notional of longs (SELL) and shorts (BUY) in it,
        and the last price. Seconds without liquidations must be fed with zeros."""
        prev, levels = self._prev_levels, self._smooth(sell_notional, buy_notional)
        self._prev_levels = (levels[0], levels[1])
        trigger = self._trigger(levels)
        # The price test costs O(sigma_window): only run it when the notional already crossed.
        if trigger and not self._price_moved(price):
            trigger = 0
        self._record_price(price)
        for i, med in enumerate(self._medians):
            med.push(levels[i])
        if trigger and self._starts(trigger, levels[0 if trigger < 0 else 1], prev):
            self.side, self.start_ms, self._peak = trigger, time_ms, 0.0
            self._extreme, self._extreme_ms = price, time_ms
            self.exhausted = False
        if self.side == 0:
            return None
        level = levels[0 if self.side < 0 else 1]
        self._peak = max(self._peak, level)
        self.value = 1.0 - level / self._peak if self._peak > 0 else 1.0
        if not self.exhausted:
            self.exhausted = self.value >= self.config.exhausted_at and self._quiet(time_ms, price)
        return self.value

    def _starts(self, trigger: int, level: float, prev: tuple[float, float]) -> bool:
        """A crossing starts a new cascade: on the other side always; on the same side only
        after exhaustion and with L rising (a new burst, not the old cascade's tail)."""
        if trigger != self.side:
            return True
        return self.exhausted and level > prev[0 if trigger < 0 else 1]

    def _smooth(self, sell: float, buy: float) -> list[float]:
        hl = self.config.ewma_half_life_s
        if hl is None:
            self._level = [sell, buy]
        else:
            a = 1.0 - 0.5 ** (1.0 / hl)
            self._level = [
                lv + a * (x - lv) for lv, x in zip(self._level, (sell, buy), strict=True)
            ]
        return self._level

    def _trigger(self, levels: list[float]) -> int:
        """−1 or +1 for the side whose L crossed its start threshold (the larger
        multiple of its baseline wins), 0 for none."""
        cfg, best, side = self.config, 0.0, 0
        for i, s in ((0, -1), (1, 1)):
            base = max(self._medians[i].median() or 0.0, cfg.min_notional)
            ratio = levels[i] / base
            if ratio >= cfg.k_start and ratio > best:
                best, side = ratio, s
        return side

    def _price_moved(self, price: float | None) -> bool:
        """|log return over return_window_s| ≥ m·σ₁ₛ·sqrt(window), σ₁ₛ from the returns
        BEFORE this second (the move is judged against prior volatility)."""
        cfg = self.config
        if price is None:
            return cfg.price_sigma_mult is None
        prices, returns = self._prices, self._returns
        moved = cfg.price_sigma_mult is None
        if not moved and len(prices) >= cfg.return_window_s and len(returns) >= 2:
            n = len(returns)
            mean = sum(returns) / n
            sigma = math.sqrt(sum((r - mean) ** 2 for r in returns) / (n - 1))
            move = abs(math.log(price / prices[-cfg.return_window_s]))
            moved = move > 0 and move >= cfg.price_sigma_mult * sigma * math.sqrt(
                cfg.return_window_s
            )
        return moved

    def _record_price(self, price: float | None) -> None:
        if price is None:
            return
        if self._prices:
            self._returns.append(math.log(price / self._prices[-1]))
        self._prices.append(price)

    def _quiet(self, time_ms: int, price: float | None) -> bool:
        """No new extreme in the cascade direction for no_new_extreme_s (True without prices)."""
        if price is None:
            return True
        if self._extreme is None:
            self._extreme, self._extreme_ms = price, time_ms
        if (self.side < 0 and price < self._extreme) or (self.side > 0 and price > self._extreme):
            self._extreme, self._extreme_ms = price, time_ms
        return time_ms - self._extreme_ms >= self.config.no_new_extreme_s * 1000
