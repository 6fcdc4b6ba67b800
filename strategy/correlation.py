"""Correlation of bar returns between symbols, for the risk manager's `max_correlation` (seed
001: at most 0.6 between open signals).

Each symbol keeps its last `bars` bar closes; two symbols' correlation is Pearson's over the
close-to-close returns of the bars both closed at the same times (at least half of `bars` of
them, else it is unknown and nothing is refused). Fed at every bar close by the engine, from
its own bars, so the live worker and a backtest see the same values.
"""

from __future__ import annotations

import itertools
import statistics
from collections import deque


class Correlations:
    def __init__(self, bars: int) -> None:
        self.bars = bars
        self.min_samples = max(2, bars // 2)
        self._closes: dict[str, deque[tuple[int, float]]] = {}

    def add(self, symbol: str, time_ms: int, close: float) -> None:
        closes = self._closes.setdefault(symbol, deque(maxlen=self.bars + 1))
        closes.append((time_ms, close))

    def between(self, a: str, b: str) -> float | None:
        ra, rb = self._returns(a), self._returns(b)
        common = sorted(ra.keys() & rb.keys())
        if len(common) < self.min_samples:
            return None
        try:
            return statistics.correlation([ra[t] for t in common], [rb[t] for t in common])
        except statistics.StatisticsError:  # a flat series: no correlation to speak of
            return None

    def _returns(self, symbol: str) -> dict[int, float]:
        closes = list(self._closes.get(symbol, ()))
        return {
            t: close / prev - 1.0
            for (_, prev), (t, close) in itertools.pairwise(closes)
            if prev > 0
        }
