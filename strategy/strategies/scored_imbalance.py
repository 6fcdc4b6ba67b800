"""The scored imbalance signal of seed 001 §6–8: book imbalance + large trades + volume, scored.

LONG, all required (§7.1; mirrored for SHORT):
- `imbalance` > `imbalance_min` (0.28; top-10 depth imbalance, as §6.1 computes it),
- at least `min_large_trades` large buys (notional ≥ the pipeline's `large_trade_notional`, $50k
  as in §6.2) in the last `window_bars` bars (§5.2: a 300 s window = 5 bars of 1 min),
- volume intensity > `volume_intensity_min` (1.5),
- close above the rolling VWAP (the pipeline's `vwap_window_ms`, 1 h as in §7.1).

Volume intensity [PROPOSAL]: the seed's `volume_vs_average` is quote volume per minute in $M,
which is not comparable across symbols; here it is the mean bar volume of the last `window_bars`
bars over the mean bar volume of the `baseline_bars` bars before them (no signal until that
baseline is full).

Score exactly as §7.2: imbalance > 0.4 → 35, > 0.3 → 25, else 15; intensity ≥ 2.0 → 30,
≥ 1.5 → 20, else 10; large trades × 8, at most 35 (counted on the signal's side, where the seed
takes the larger of both sides). HIGH ≥ 80, MEDIUM ≥ 65, LOW below (§7.2); below `min_score`
(§8.1's LOW minimum, 50) no signal.

Optional conditions (§7.1), reported in the reasons and counted in `optional_met`: RSI (the
pipeline's `rsi_period`; the seed's RSI(9) on 15 m) below `rsi_oversold` (30) for a LONG, above
`rsi_overbought` (70) for a SHORT; a bullish (bearish) delta divergence within the window — the
seed's divergence is RSI's, Flowline's is CVD's (indicators/delta.py); a support (resistance)
wall within `level_bps` of the close. `min_optional` of them are required (0: optional, as
written).

Stop and targets [PROPOSAL; §8.2 only shows an example]: stop `stop_atr` × ATR from the entry,
targets at `targets_r` multiples of that distance (1R and 1.5R, the proportions of §8.2's
example). No signal while ATR is undefined.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

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
class ScoredImbalanceParams:
    imbalance_min: float = 0.28
    min_large_trades: int = 3
    window_bars: int = 5
    baseline_bars: int = 60
    volume_intensity_min: float = 1.5
    stop_atr: float = 1.5
    targets_r: tuple[float, ...] = (1.0, 1.5)
    cooldown_bars: int = 15
    min_score: float = 50.0
    rsi_oversold: float = 30.0
    rsi_overbought: float = 70.0
    level_bps: float = 20.0
    min_optional: int = 0

    def __post_init__(self) -> None:
        name = ScoredImbalanceStrategy.name
        targets = check_exits(name, self.targets_r, self.cooldown_bars)
        object.__setattr__(self, "targets_r", targets)
        check_param(self.window_bars >= 1, name, "window_bars", ">= 1")
        check_param(self.baseline_bars >= 1, name, "baseline_bars", ">= 1")
        check_param(self.min_large_trades >= 0, name, "min_large_trades", ">= 0")
        check_param(self.stop_atr > 0, name, "stop_atr", "> 0")
        check_param(0 <= self.min_optional <= 3, name, "min_optional", "0 to 3")


def seed_score(imbalance: float, intensity: float, large_trades: int) -> float:
    """Seed 001 §7.2's quality score (0–100)."""
    score = 35 if imbalance > 0.4 else 25 if imbalance > 0.3 else 15
    score += 30 if intensity >= 2.0 else 20 if intensity >= 1.5 else 10
    return score + min(large_trades * 8, 35)


class ScoredImbalanceStrategy:
    name: ClassVar[str] = "scored_imbalance"

    def __init__(self, symbol: str, params: dict[str, Any] | ScoredImbalanceParams) -> None:
        self.symbol = symbol
        p = self.params = resolve_params(ScoredImbalanceParams, self.name, params)
        # (volume, large buys, large sells) of the last window + baseline bars, oldest first
        self.bars: deque[tuple[float, int, int]] = deque(maxlen=p.window_bars + p.baseline_bars)
        self.divergences: deque[int] = deque(maxlen=p.window_bars)
        self.spacing = Spacing(p.cooldown_bars)

    def volume_intensity(self) -> float | None:
        """Mean volume of the window over the mean of the baseline before it; None warming up."""
        p = self.params
        if len(self.bars) < p.window_bars + p.baseline_bars:
            return None
        volumes = [v for v, _, _ in self.bars]
        baseline = sum(volumes[: p.baseline_bars]) / p.baseline_bars
        window = sum(volumes[p.baseline_bars :]) / p.window_bars
        return window / baseline if baseline > 0 else None

    def on_bar(self, snap: Snapshot) -> Signal | None:
        self.bars.append((snap.volume, snap.large_buys, snap.large_sells))
        self.divergences.append(snap.divergence)
        if snap.close is None or snap.imbalance is None or not self.spacing.allows(snap):
            return None
        intensity = self.volume_intensity()
        if intensity is None or intensity <= self.params.volume_intensity_min:
            return None
        side = Side.LONG if snap.imbalance > 0 else Side.SHORT
        signal = self._evaluate(snap, side, intensity)
        if signal is not None:
            self.spacing.mark(snap)
        return signal

    def _evaluate(self, snap: Snapshot, side: Side, intensity: float) -> Signal | None:
        p, sign = self.params, side.sign
        assert snap.close is not None and snap.imbalance is not None
        imbalance = sign * snap.imbalance
        if imbalance <= p.imbalance_min:
            return None
        window = list(self.bars)[-p.window_bars :]
        large = sum(b if sign > 0 else s for _, b, s in window)
        if large < p.min_large_trades:
            return None
        if snap.rolling_vwap is None or sign * (snap.close - snap.rolling_vwap) <= 0:
            return None
        if snap.atr is None or snap.atr <= 0:
            return None
        score = seed_score(imbalance, intensity, large)
        if score < p.min_score:
            return None
        optional = self._optional(snap, sign)
        if sum(optional.values()) < p.min_optional:
            return None
        stop = snap.close - sign * p.stop_atr * snap.atr
        reasons: dict[str, float | int | str | bool | None] = {
            "imbalance": snap.imbalance,
            "large_trades": large,
            "volume_intensity": intensity,
            "rolling_vwap": snap.rolling_vwap,
            "atr": snap.atr,
            "rsi": snap.rsi,
            **optional,
            "optional_met": sum(optional.values()),
        }
        quality = quality_of(score, 80.0, 65.0)
        return make_signal(snap, self.name, side, stop, p.targets_r, score, quality, reasons)

    def _optional(self, snap: Snapshot, sign: int) -> dict[str, bool]:
        """§7.1's optional conditions for a trade of `sign`."""
        p, close = self.params, snap.close
        assert close is not None
        rsi = snap.rsi
        extreme = rsi is not None and (rsi < p.rsi_oversold if sign > 0 else rsi > p.rsi_overbought)
        wall = snap.bid_wall_price if sign > 0 else snap.ask_wall_price
        level = wall is not None and abs(close - wall) <= close * p.level_bps * 1e-4
        return {
            "rsi_extreme": extreme,
            "divergence": sign in self.divergences,
            "level": level,
        }
