"""The classic indicators the neighbouring systems use: EMA, VWAP, RSI, MACD, ATR.

Warm-up follows the common TA-Lib/Wilder conventions: EMA and Wilder averages are
seeded with the simple mean of their first `period` inputs, and `value` is None until
then (no partially-seeded numbers).
"""

from __future__ import annotations

from collections import deque

from indicators.delta import DAY_MS


class Ema:
    """EMA_t = EMA_{t−1} + α·(x_t − EMA_{t−1}), α = 2/(period + 1), seeded with the SMA
    of the first `period` values."""

    __slots__ = ("_alpha", "_n", "_seed", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError("period must be >= 1")
        self.period = period
        self._alpha = 2.0 / (period + 1)
        self.reset()

    def reset(self) -> None:
        self.value: float | None = None
        self._n = 0
        self._seed = 0.0

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value += self._alpha * (x - self.value)
            return self.value
        self._n += 1
        self._seed += x
        if self._n == self.period:
            self.value = self._seed / self.period
        return self.value


class _Wilder:
    """Wilder's smoothing: seeded with the mean of `period` inputs, then
    avg_t = (avg_{t−1}·(period − 1) + x_t) / period."""

    __slots__ = ("_n", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self.reset()

    def reset(self) -> None:
        self.value: float | None = None
        self._n = 0
        self._sum = 0.0

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value = (self.value * (self.period - 1) + x) / self.period
            return self.value
        self._n += 1
        self._sum += x
        if self._n == self.period:
            self.value = self._sum / self.period
        return self.value


class Rsi:
    """Wilder RSI = 100 − 100/(1 + avg_gain/avg_loss) over `period` price changes
    (needs period + 1 prices). 100 when avg_loss = 0 < avg_gain; None when both are 0
    (no movement at all: RSI is undefined, 50 would be invented)."""

    __slots__ = ("_gain", "_loss", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        if period < 1:
            raise ValueError("period must be >= 1")
        self.period = period
        self._gain, self._loss = _Wilder(period), _Wilder(period)
        self.reset()

    def reset(self) -> None:
        self._gain.reset()
        self._loss.reset()
        self._prev: float | None = None
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, price: float) -> float | None:
        prev, self._prev = self._prev, price
        if prev is None:
            return None
        change = price - prev
        gain = self._gain.update(max(change, 0.0))
        loss = self._loss.update(max(-change, 0.0))
        if gain is None or loss is None or gain + loss == 0:
            self.value = None
        elif loss == 0:
            self.value = 100.0
        else:
            self.value = 100.0 - 100.0 / (1.0 + gain / loss)
        return self.value


class Macd:
    """MACD = EMA_fast − EMA_slow; signal = EMA_signal(MACD); histogram = MACD − signal.
    `value` is the MACD line (None until the slow EMA is seeded)."""

    __slots__ = ("_fast", "_signal", "_slow", "histogram", "signal", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if not 1 <= fast < slow:
            raise ValueError("need 1 <= fast < slow")
        self._fast, self._slow, self._signal = Ema(fast), Ema(slow), Ema(signal)
        self.reset()

    def reset(self) -> None:
        for ema in (self._fast, self._slow, self._signal):
            ema.reset()
        self.value: float | None = None
        self.signal: float | None = None
        self.histogram: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, price: float) -> float | None:
        fast, slow = self._fast.update(price), self._slow.update(price)
        if fast is None or slow is None:
            return None
        self.value = fast - slow
        self.signal = self._signal.update(self.value)
        self.histogram = None if self.signal is None else self.value - self.signal
        return self.value


class Atr:
    """Wilder ATR of the true range TR = max(H − L, |H − C_prev|, |L − C_prev|)
    (TR = H − L for the first bar)."""

    __slots__ = ("_avg", "_prev_close", "period")

    def __init__(self, period: int = 14) -> None:
        if period < 1:
            raise ValueError("period must be >= 1")
        self.period = period
        self._avg = _Wilder(period)
        self.reset()

    def reset(self) -> None:
        self._avg.reset()
        self._prev_close: float | None = None

    @property
    def value(self) -> float | None:
        return self._avg.value

    @property
    def ready(self) -> bool:
        return self._avg.value is not None

    def update(self, high: float, low: float, close: float) -> float | None:
        tr = high - low
        pc = self._prev_close
        if pc is not None:
            tr = max(tr, abs(high - pc), abs(low - pc))
        self._prev_close = close
        return self._avg.update(tr)


class SessionVwap:
    """VWAP = Σ p·q / Σ q since 00:00 UTC of the latest update; None without volume."""

    __slots__ = ("_day_end", "_pq", "_q")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._day_end = -1  # end of the current UTC day: no division per trade
        self._pq = 0.0
        self._q = 0.0

    @property
    def ready(self) -> bool:
        return self._q > 0

    @property
    def value(self) -> float | None:
        return self._pq / self._q if self._q > 0 else None

    def update(self, time_ms: int, price: float, qty: float) -> None:
        if time_ms >= self._day_end:
            self._day_end = time_ms - time_ms % DAY_MS + DAY_MS
            self._pq, self._q = 0.0, 0.0
        self._pq += price * qty
        self._q += qty


class RollingVwap:
    """VWAP over trades with time in (t − window_ms, t]; None without volume in it."""

    __slots__ = ("_items", "_pq", "_q", "window_ms")

    def __init__(self, window_ms: int) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be > 0")
        self.window_ms = window_ms
        self.reset()

    def reset(self) -> None:
        self._items: deque[tuple[int, float, float]] = deque()
        self._pq = 0.0
        self._q = 0.0

    @property
    def ready(self) -> bool:
        return self._q > 0

    @property
    def value(self) -> float | None:
        return self._pq / self._q if self._q > 0 else None

    def update(self, time_ms: int, price: float, qty: float) -> None:
        items = self._items
        pq = price * qty
        items.append((time_ms, pq, qty))
        pq_sum, q_sum = self._pq + pq, self._q + qty  # locals: fewer attribute stores
        cutoff = time_ms - self.window_ms
        while items[0][0] <= cutoff:
            _, old_pq, old_q = items.popleft()
            pq_sum -= old_pq
            q_sum -= old_q
        if len(items) == 1:  # running sums drift by float residue; re-anchor when we can
            pq_sum, q_sum = pq, qty
        self._pq, self._q = pq_sum, q_sum
