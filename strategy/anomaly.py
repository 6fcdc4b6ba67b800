"""Health actions (seed 001): a symbol's new signals pause on a 3σ data anomaly.

At every bar close the engine hands each symbol's bar and the age of its data here. Four metrics
are watched, each against its own recent history (the last `window` bars):

- `trade_rate`: trades in the bar;
- `price_jump`: |close - previous close| in ticks;
- `spread`: best ask - best bid in ticks at the bar close (when the book is valid);
- `data_age`: ms from the staler of the symbol's continuous streams (depth diffs, mark price) to
  the bar close.

A value more than `sigma` standard deviations from the mean of the history before it (once
`min_samples` values are in) starts an episode, or extends one. The deviation is at least the
metric's resolution (`FLOORS`: one trade, one tick, the depth stream's 100 ms): a quiet market's
history is mostly the same value, and one tick more than that is not an anomaly however small
its standard deviation. While paused, the symbol's signals are rejected with the reason
"anomaly: <metric>" until `calm` has passed without another anomalous value. Each episode is
logged once when it starts and once when it ends, and counted (flowline_strategy_anomalies_total).
The value is added to the history either way, so a lasting change of regime becomes the new
normal.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

from settings import SettingsError
from strategy import metrics
from strategy.snapshot import Snapshot

log = logging.getLogger(__name__)
METRICS = ("trade_rate", "price_jump", "spread", "data_age")
FLOORS = {"trade_rate": 1.0, "price_jump": 1.0, "spread": 1.0, "data_age": 100.0}


@dataclass(frozen=True)
class AnomalyParams:
    """`[anomaly]`: off unless enabled; each metric can be left out."""

    enabled: bool = False
    sigma: float = 3.0
    window: int = 120  # bars of history per metric
    min_samples: int = 30  # values before a metric can fire
    calm_ms: int = 60_000  # signals resume this long after the last anomalous value
    trade_rate: bool = True
    price_jump: bool = True
    spread: bool = True
    data_age: bool = True

    def __post_init__(self) -> None:
        if self.min_samples > self.window:
            raise SettingsError(
                f"[anomaly] min_samples = {self.min_samples}: expected <= window ({self.window})"
            )

    @property
    def watched(self) -> tuple[str, ...]:
        return tuple(m for m in METRICS if getattr(self, m))


class Rolling:
    """Mean and standard deviation of the last `size` values (population; O(1) per value)."""

    def __init__(self, size: int) -> None:
        self.values: deque[float] = deque(maxlen=size)
        self.total = 0.0
        self.squares = 0.0

    def add(self, value: float) -> None:
        if len(self.values) == self.values.maxlen:
            old = self.values[0]
            self.total -= old
            self.squares -= old * old
        self.values.append(value)
        self.total += value
        self.squares += value * value

    def sigmas(self, value: float, floor: float) -> float:
        """How many standard deviations (at least `floor`) `value` is from the mean."""
        n = len(self.values)
        mean = self.total / n
        std = math.sqrt(max(0.0, self.squares / n - mean * mean))
        return abs(value - mean) / max(std, floor)


def bar_metrics(snap: Snapshot, previous_close: float | None, age_ms: int | None) -> dict:
    """The metrics of one closed bar (a metric without a value this bar is left out)."""
    out: dict[str, float] = {"trade_rate": float(snap.trades or 0)}
    tick = snap.tick_size or 1.0
    if snap.close is not None and previous_close:
        out["price_jump"] = abs(snap.close - previous_close) / tick
    if snap.book_valid and snap.best_bid and snap.best_ask:
        out["spread"] = (snap.best_ask - snap.best_bid) / tick
    if age_ms is not None:
        out["data_age"] = float(age_ms)
    return out


@dataclass
class _Symbol:
    history: dict[str, Rolling]
    close: float | None = None
    paused_until: int = 0  # ms
    metric: str = ""  # the latest anomalous metric of the episode


class AnomalyWatch:
    def __init__(self, params: AnomalyParams) -> None:
        self.params = params
        self.symbols: dict[str, _Symbol] = {}

    def on_bar(self, snap: Snapshot, age_ms: int | None) -> str | None:
        """Judge the bar closing at `snap.end_ms`; the metric that started an episode, if one
        did."""
        p, now = self.params, snap.end_ms
        state = self.symbols.get(snap.symbol)
        if state is None:
            state = self.symbols[snap.symbol] = _Symbol({m: Rolling(p.window) for m in p.watched})
        if state.metric and now >= state.paused_until:
            log.info("%s: data calm again: signals resume", snap.symbol)
            state.metric = ""
        fired = []
        for name, value in bar_metrics(snap, state.close, age_ms).items():
            rolling = state.history.get(name)
            if rolling is None:
                continue
            if len(rolling.values) >= p.min_samples:
                sigmas = rolling.sigmas(value, FLOORS[name])
                if sigmas > p.sigma:
                    fired.append((name, value, sigmas))
            rolling.add(value)
        if snap.close is not None:
            state.close = snap.close
        return self._episode(snap.symbol, state, now, fired)

    def _episode(
        self, symbol: str, state: _Symbol, now: int, fired: list[tuple[str, float, float]]
    ) -> str | None:
        if not fired:
            return None
        name, value, sigmas = max(fired, key=lambda f: f[2])
        started = not state.metric
        state.metric, state.paused_until = name, now + self.params.calm_ms
        if not started:
            return None
        log.warning("%s: data anomaly, %s = %.6g is %.1f sigma from its recent history: "
                    "new signals paused", symbol, name, value, sigmas)  # fmt: skip
        metrics.ANOMALIES.labels(symbol, name).inc()
        return name

    def refusal(self, symbol: str, time_ms: int) -> str | None:
        """The rejection reason of a signal of `symbol` at `time_ms` while paused."""
        state = self.symbols.get(symbol)
        if state is None or not state.metric or time_ms >= state.paused_until:
            return None
        return f"anomaly: {state.metric}"
