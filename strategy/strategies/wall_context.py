"""What the wall strategy judges beyond one bar (seed 002): the hours before it, and the dynamic
take-profit.

The trend (`TrendAnalyzer`: "two factors, 24 h + order book"): with `trend_hours` a breakout
needs the close beyond the close of that many hours before (not judged until the history reaches
back so far), with `trend_book` the band imbalance (the book within `band_bps` of the price) at
the bar close not against it.

The dynamic take-profit (`TakeProfitAnalyzer`): a trade in profit is closed at a bar close once
the move looks spent. The seed names four conditions without formulas; each is a wall
parameter, off at 0 ([PROPOSAL] rules):

- slowdown (`is_movement_slowing`, `tp_slowdown_multiplier` 3.0): the mean bar body (|close −
  open|) of the last `tp_slowdown_bars` bars times `tp_slowdown_mult` is below that of the
  `tp_slowdown_bars` bars before them;
- counter-density (`is_counter_density_detected`): a density the strategy remembers on the other
  side of the book lies ahead of the price within `tp_counter_bps`;
- aggression (`is_aggressive_counter_orders`): the bar's normalized delta runs against the trade
  by at least `tp_counter_delta`;
- known levels (`is_returning_to_known_levels`, `tp_local_extrema_hours` 4): the close reaches the
  extreme of the `tp_extrema_hours` before the signal (the high for a LONG, the low for a SHORT),
  ground where the market turned before.
"""

from __future__ import annotations

from collections import deque

from strategy.snapshot import Snapshot

MINUTE_MS = 60_000


class History:
    """Each bar's high, low and close, or each minute's for bars shorter than a minute (a bucket
    starts at its first bar and ends with its last), for the hours the wall strategy looks back
    over: known levels here, the breakout's trend over `trend_hours`."""

    def __init__(self, hours: float) -> None:
        # (start, end, high, low, close) per bucket
        # a bucket spans a minute or more: the hours, the bucket under way and one ended before
        self.buckets: deque[tuple[int, int, float, float, float]] = deque(
            maxlen=int(hours * 60) + 2
        )

    def add(self, snap: Snapshot) -> None:
        if snap.high is None or snap.low is None or snap.close is None:
            return
        if self.buckets and snap.time_ms < self.buckets[-1][0] + MINUTE_MS:
            start, _, high, low, _ = self.buckets[-1]
            high, low = max(high, snap.high), min(low, snap.low)
            self.buckets[-1] = (start, snap.end_ms, high, low, snap.close)
        else:
            self.buckets.append((snap.time_ms, snap.end_ms, snap.high, snap.low, snap.close))

    def extreme(self, time_ms: int, hours: float, sign: int) -> float | None:
        """The highest high (sign > 0) or lowest low of the buckets wholly inside the `hours`
        before `time_ms`."""
        since = time_ms - hours * 3_600_000
        seen = [
            b[2] if sign > 0 else b[3] for b in self.buckets if b[0] >= since and b[1] <= time_ms
        ]
        if not seen:
            return None
        return max(seen) if sign > 0 else min(seen)

    def close_at(self, time_ms: float) -> float | None:
        """The close of the last bucket ended by `time_ms`; None if none reaches back so far."""
        if not self.buckets or self.buckets[0][1] > time_ms:
            return None
        return next(b[4] for b in reversed(self.buckets) if b[1] <= time_ms)


def slowing(bars: list[Snapshot], n: int, mult: float) -> bool:
    """The mean body (|close − open|) of the last `n` of `bars` × `mult` is below the mean body
    of the `n` before them: the move slowed to under 1/`mult` of its pace."""
    bodies = [abs(s.close - s.open) for s in bars if s.close is not None and s.open is not None]
    if len(bodies) < 2 * n:
        return False
    before, last = bodies[-2 * n : -n], bodies[-n:]
    pace = sum(before) / n
    return pace > 0 and sum(last) / n * mult < pace


def aggressive_against(snap: Snapshot, sign: int, threshold: float) -> bool:
    return snap.normalized_delta is not None and -sign * snap.normalized_delta >= threshold


def counter_density(close: float, sign: int, walls: list[float], bps: float) -> bool:
    """A remembered density on the other side (`walls`: their prices) ahead within `bps`."""
    reach = close * bps * 1e-4
    return any(0 <= sign * (price - close) <= reach for price in walls)
