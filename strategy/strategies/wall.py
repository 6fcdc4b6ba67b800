"""Wall (density) breakout and bounce, seeds 000 and 002.

The strategy remembers the persistent walls the pipeline reports as nearest (`bid_wall_price`,
`ask_wall_price`: already past the walls indicator's persistence test) with their largest size,
and how each one ended (`wall_events`: "reached" = traded into, "pulled" = cancelled).

Breakout (seed 002 `check_breakout_signal`) — LONG through an ask wall (SHORT mirrors a bid wall):
- the wall is eroded: its size fell by ≥ `erosion_min` of its largest (30 %), or it is gone
  (eaten or pulled: erosion 100 %);
- the bar closes beyond it by `break_bps` while the previous bar had not;
- the move has the trend behind it: positive bar delta and close above the rolling VWAP (the seed's
  "trend matches the breakout direction"); and, as seed 002 reads the trend, with `trend_hours`
  the close above the close that many hours before and with `trend_book` the band imbalance (the
  book within `band_bps` of the price) not negative (strategy/strategies/wall_context.py).
Stop `breakout_stop_bps` behind the wall (seed 002: breakout_min_stop_loss_percent 0.1).

Bounce (seed 002 BounceDetector, seed 004 §4.6) — LONG off a bid wall (SHORT off an ask wall):
- a bar's low comes within `touch_bps` of a live bid wall (the touch);
- for the next `hold_bars` bars no trade goes below the wall and the wall keeps at least
  (1 − `hold_max_erosion`) of its largest size at each bar close (seed 002 wants the density
  "stable" within 10 %; [PROPOSAL] 25 % leaves room for a wall that is hit and refilled, while
  one being cancelled away, a pull, does not count as support);
- then, on a close at or above the wall, LONG.
Stop `bounce_stop_bps` behind the wall (seed 002: bounce_stop_loss_behind_density_percent 0.3).

Density (seed 002 `detect_densities`, each criterion off at 0): a remembered wall must also be
at least `density_min_notional` in quote (002: `density_threshold_abs` 50000), at least
`density_neighbour_mult` × the mean of the `density_neighbours` levels on either side of it
(3.0 × 5) and at least `density_side_pct` % of its side of the book in view (5.0) — all per
symbol through the strategy's symbol overrides. Seed 000's "activation distance" and "entry
offset" in ticks: `touch_ticks` (> 0 replaces `touch_bps`) and `entry_offset_ticks` (> 0: a bounce
enters only with the close at most that many ticks from the wall, where the seed's limit order
would have filled; Flowline enters at the market at the bar close).

Low activity (seed 002 `is_trading_activity_low`, named without a rule; [PROPOSAL]): with
`bounce_max_activity` > 0 a bounce needs the mean volume of its hold bars at most that many
times the mean bar volume of the remembered bars before it (a quiet test of the density, not a
fight).

Erosion exit (seed 002 `check_density_erosion`): with `bounce_exit_erosion` > 0, an open bounce
is closed at a bar close once its wall has lost that share of its largest size (002: 65 %).

Dynamic take-profit (seed 002 `TakeProfitAnalyzer`, each off at 0): a trade in profit closes at a
bar close on slowdown (`tp_slowdown_mult`, bars of `tp_slowdown_bars`), a counter-density ahead
(`tp_counter_bps`), counter-aggression (`tp_counter_delta`) or a known level reached
(`tp_extrema_hours`); the rules are in strategy/strategies/take_profit.py.

Targets: `targets_r` multiples of the stop distance. A wall is forgotten `memory_bars` bars after
it was last seen, and gives at most one signal. Signals are at least `cooldown_bars` apart
(touches and holds are still followed meanwhile). `breakout` / `bounce` switch either half off.

Score (0–100) [PROPOSAL]: breakout — erosion 30 (eaten 30, pulled 20, eroded in place 15),
bar delta share up to 25 (normalized delta), footprint imbalances on its side 15, new high of the
remembered window 15, distance above the rolling VWAP 15 (saturating at `break_bps` × 5);
bounce — wall kept size up to 30, book imbalance up to 25, delta in the hold on its side 15,
footprint imbalances 15, wall within `touch_bps` at the signal 15. HIGH ≥ `high_score`,
MEDIUM ≥ `medium_score`. [PROPOSAL] `touch_bps` 5 (the seed's 0.2 % is several 1 min ATRs on
majors) and `hold_bars` 3.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from indicators.walls import ASK, BID
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
from strategy.strategies.wall_context import History, aggressive_against, counter_density, slowing

Reasons = dict[str, float | int | str | bool | None]


@dataclass(frozen=True)
class WallParams:
    erosion_min: float = 0.30
    break_bps: float = 2.0
    breakout_stop_bps: float = 10.0
    touch_bps: float = 5.0
    hold_bars: int = 3
    hold_max_erosion: float = 0.25
    bounce_stop_bps: float = 30.0
    memory_bars: int = 60
    targets_r: tuple[float, ...] = (1.5, 3.0)
    cooldown_bars: int = 30
    breakout: bool = True
    bounce: bool = True
    high_score: float = 75.0
    medium_score: float = 50.0
    density_min_notional: float = 0.0
    density_neighbours: int = 5
    density_neighbour_mult: float = 0.0
    density_side_pct: float = 0.0
    touch_ticks: int = 0
    entry_offset_ticks: int = 0
    bounce_exit_erosion: float = 0.0
    bounce_max_activity: float = 0.0
    tp_slowdown_mult: float = 0.0
    tp_slowdown_bars: int = 5
    tp_counter_bps: float = 0.0
    tp_counter_delta: float = 0.0
    tp_extrema_hours: float = 0.0
    trend_hours: float = 0.0
    trend_book: bool = False

    def __post_init__(self) -> None:
        name = WallStrategy.name
        check_param(self.density_neighbours >= 1, name, "density_neighbours", ">= 1")
        check_param(self.density_min_notional >= 0, name, "density_min_notional", ">= 0")
        check_param(self.density_neighbour_mult >= 0, name, "density_neighbour_mult", ">= 0")
        check_param(0 <= self.density_side_pct <= 100, name, "density_side_pct", "in [0, 100]")
        check_param(self.touch_ticks >= 0, name, "touch_ticks", ">= 0")
        check_param(self.entry_offset_ticks >= 0, name, "entry_offset_ticks", ">= 0")
        check_param(0 <= self.bounce_exit_erosion <= 1, name, "bounce_exit_erosion", "in [0, 1]")
        check_param(self.bounce_max_activity >= 0, name, "bounce_max_activity", ">= 0")
        check_param(self.tp_slowdown_mult >= 0, name, "tp_slowdown_mult", ">= 0")
        check_param(self.tp_slowdown_bars >= 1, name, "tp_slowdown_bars", ">= 1")
        check_param(
            not self.tp_slowdown_mult or 2 * self.tp_slowdown_bars <= self.memory_bars,
            name, "tp_slowdown_bars",
            "at most memory_bars / 2 (it compares two spans of that many bars)",
        )  # fmt: skip
        check_param(self.tp_counter_bps >= 0, name, "tp_counter_bps", ">= 0")
        check_param(self.tp_counter_delta >= 0, name, "tp_counter_delta", ">= 0")
        check_param(0 <= self.tp_extrema_hours <= 48, name, "tp_extrema_hours", "in [0, 48]")
        check_param(0 <= self.trend_hours <= 48, name, "trend_hours", "in [0, 48]")
        targets = check_exits(name, self.targets_r, self.cooldown_bars)
        object.__setattr__(self, "targets_r", targets)
        check_param(0 < self.erosion_min <= 1, name, "erosion_min", "in (0, 1]")
        check_param(0 <= self.hold_max_erosion < 1, name, "hold_max_erosion", "in [0, 1)")
        check_param(self.hold_bars >= 1, name, "hold_bars", ">= 1")
        check_param(self.memory_bars >= 1, name, "memory_bars", ">= 1")
        check_param(self.breakout_stop_bps > 0, name, "breakout_stop_bps", "> 0")
        check_param(self.bounce_stop_bps > 0, name, "bounce_stop_bps", "> 0")


class _Level:
    """One remembered wall."""

    __slots__ = ("delta", "ended", "held", "max_qty", "price", "qty", "seen_ms", "side", "touched")

    def __init__(self, side: int, price: float, qty: float, max_qty: float, now: int) -> None:
        self.side, self.price, self.qty, self.max_qty = side, price, qty, max_qty
        self.seen_ms = now
        self.ended: str | None = None  # the wall event that retired it
        self.touched = False  # bounce: touched and holding for `held` bars
        self.held = 0
        self.delta = 0.0  # bounce: delta summed over the hold

    @property
    def erosion(self) -> float:
        if self.ended is not None:
            return 1.0
        return 1.0 - self.qty / self.max_qty if self.max_qty > 0 else 0.0


class WallStrategy:
    name: ClassVar[str] = "wall"

    def __init__(self, symbol: str, params: dict[str, Any] | WallParams) -> None:
        self.symbol = symbol
        p = self.params = resolve_params(WallParams, self.name, params)
        self.levels: dict[tuple[int, int], _Level] = {}  # (side, ticks) -> wall
        self.recent: deque[Snapshot] = deque(maxlen=p.memory_bars)
        self.spacing = Spacing(p.cooldown_bars)
        hours = max(p.tp_extrema_hours, p.trend_hours)
        self.history = History(hours) if hours else None

    def on_bar(self, snap: Snapshot) -> Signal | None:
        previous = self.recent[-1] if self.recent else None
        if snap.tick_size <= 0 or snap.close is None:
            return None
        self.recent.append(snap)
        if self.history is not None:
            self.history.add(snap)
        self._remember(snap)
        self._forget(snap)
        # Touches and holds are followed during the cooldown too; only emitting waits.
        signal = self._signal(snap, previous, emit=self.spacing.allows(snap))
        if signal is not None:
            self.spacing.mark(snap)
        return signal

    # -- memory --------------------------------------------------------------------------

    def _remember(self, snap: Snapshot) -> None:
        tick = snap.tick_size
        for event in snap.wall_events:
            level = self.levels.get((event.wall.side, event.wall.ticks))
            if level is None:
                continue
            if event.kind == "out_of_view":  # we cannot tell what happened to it
                del self.levels[(event.wall.side, event.wall.ticks)]
            else:
                level.ended, level.qty = event.kind, 0.0
        for side, price in ((BID, snap.bid_wall_price), (ASK, snap.ask_wall_price)):
            if price is None:
                continue
            ticks = round(price / tick)
            wall = next((w for w in snap.walls if w.side == side and w.ticks == ticks), None)
            if wall is None:
                continue
            level = self.levels.get((side, ticks))
            if level is None or level.ended is not None:  # new, or a new wall at an old price
                if not self._is_density(snap, side, ticks):
                    continue
                level = _Level(side, ticks * tick, wall.qty, wall.max_qty, snap.time_ms)
                self.levels[(side, ticks)] = level
            level.qty, level.max_qty = wall.qty, max(level.max_qty, wall.max_qty)
            level.seen_ms = snap.time_ms

    def _is_density(self, snap: Snapshot, side: int, ticks: int) -> bool:
        """Seed 002's three density criteria on the book at the bar close (each off at 0)."""
        p = self.params
        if not (p.density_min_notional or p.density_neighbour_mult or p.density_side_pct):
            return True
        if snap.book is None:
            return False
        levels = snap.book.bids if side == BID else snap.book.asks
        at = next((i for i, lv in enumerate(levels) if lv.ticks == ticks), None)
        if at is None:
            return False
        qty, n = levels[at].qty, p.density_neighbours
        if qty * ticks * snap.tick_size < p.density_min_notional:
            return False
        near = [lv.qty for lv in (*levels[max(0, at - n) : at], *levels[at + 1 : at + 1 + n])]
        if near and qty < p.density_neighbour_mult * sum(near) / len(near):
            return False
        return qty >= p.density_side_pct / 100 * sum(lv.qty for lv in levels)

    def exit_on_bar(self, snap: Snapshot, signal: Signal, entry: float | None) -> str | None:
        """Seed 002's exits at a bar close: the bounce's density eroded, or the move is spent."""
        return self._eroded(snap, signal) or self._take_profit(snap, signal, entry)

    def _eroded(self, snap: Snapshot, signal: Signal) -> str | None:
        """The density under a bounce lost `bounce_exit_erosion` of its largest size."""
        p, reasons = self.params, signal.reasons
        if not p.bounce_exit_erosion or reasons.get("kind") != "bounce" or snap.book is None:
            return None
        price, largest = reasons.get("wall_price"), reasons.get("wall_max_qty")
        if not isinstance(price, float) or not isinstance(largest, float) or largest <= 0:
            return None
        ticks = round(price / snap.tick_size)
        levels = snap.book.bids if signal.side.sign > 0 else snap.book.asks
        qty = next((lv.qty for lv in levels if lv.ticks == ticks), 0.0)
        return "density_erosion" if 1 - qty / largest >= p.bounce_exit_erosion else None

    def _take_profit(self, snap: Snapshot, signal: Signal, entry: float | None) -> str | None:
        """The dynamic take-profit (strategy/strategies/take_profit.py), for a trade in profit."""
        p, sign, close = self.params, signal.side.sign, snap.close
        if entry is None or close is None or sign * (close - entry) <= 0:
            return None
        if p.tp_slowdown_mult:
            bars = [*(s for s in self.recent if s.time_ms < snap.time_ms), snap]
            if slowing(bars, p.tp_slowdown_bars, p.tp_slowdown_mult):
                return "tp_slowdown"
        if p.tp_counter_delta and aggressive_against(snap, sign, p.tp_counter_delta):
            return "tp_aggression"
        if p.tp_counter_bps:
            side = ASK if sign > 0 else BID
            walls = [lv.price for lv in self.levels.values() if lv.side == side and not lv.ended]
            if counter_density(close, sign, walls, p.tp_counter_bps):
                return "tp_counter_density"
        if self.history is not None and p.tp_extrema_hours:  # a level of the hours before, reached
            start = signal.time_ms - snap.bar_ms  # a signal's time is its bar's end
            known = self.history.extreme(start, p.tp_extrema_hours, sign)
            if known is not None and sign * (known - entry) > 0 and sign * (close - known) >= 0:
                return "tp_known_level"
        return None

    def _forget(self, snap: Snapshot) -> None:
        oldest = snap.time_ms - self.params.memory_bars * snap.bar_ms
        for key in [k for k, lv in self.levels.items() if lv.seen_ms < oldest]:
            del self.levels[key]

    # -- signals -------------------------------------------------------------------------

    def _signal(self, snap: Snapshot, previous: Snapshot | None, emit: bool) -> Signal | None:
        # Nearest walls first, so that two candidates in one bar resolve the same way every time.
        close = snap.close
        assert close is not None
        for key, level in sorted(self.levels.items(), key=lambda kv: abs(kv[1].price - close)):
            signal = None
            if self.params.breakout:
                signal = self._breakout(snap, previous, level)
            if signal is None and self.params.bounce:
                signal = self._bounce(snap, level)
            if signal is not None and emit:
                del self.levels[key]  # one signal per wall
                return signal
        return None

    def _breakout(self, snap: Snapshot, previous: Snapshot | None, level: _Level) -> Signal | None:
        p = self.params
        sign = -level.side  # through an ASK wall (−1) is a LONG
        close = snap.close
        assert close is not None
        beyond = level.price * (1 + sign * p.break_bps * 1e-4)
        if level.erosion < p.erosion_min or sign * (close - beyond) < 0:
            return None
        if previous is None or previous.close is None or sign * (previous.close - beyond) >= 0:
            return None  # it must close through the wall on this bar
        if sign * snap.delta <= 0 or snap.rolling_vwap is None:
            return None
        if sign * (close - snap.rolling_vwap) <= 0 or not self._trend_agrees(snap, sign):
            return None
        stop = level.price * (1 - sign * p.breakout_stop_bps * 1e-4)
        if sign * (close - stop) <= 0:
            return None
        return self._emit(snap, sign, stop, self._breakout_score(snap, level, sign))

    def _trend_agrees(self, snap: Snapshot, sign: int) -> bool:
        """Seed 002's trend: the change over `trend_hours` and the book's pressure (each off at 0;
        a change the history does not reach yet is not judged)."""
        p = self.params
        if p.trend_book and sign * (snap.band_imbalance or 0.0) < 0:  # the book near the price
            return False
        if not p.trend_hours or self.history is None or snap.close is None:
            return True
        then = self.history.close_at(snap.end_ms - p.trend_hours * 3_600_000)
        return then is None or sign * (snap.close - then) > 0

    def _emit(
        self, snap: Snapshot, sign: int, stop: float, scored: tuple[float, Reasons]
    ) -> Signal:
        p, (score, reasons) = self.params, scored
        quality = quality_of(score, p.high_score, p.medium_score)
        side = Side.LONG if sign > 0 else Side.SHORT
        return make_signal(snap, self.name, side, stop, p.targets_r, score, quality, reasons)

    def _breakout_score(self, snap: Snapshot, level: _Level, sign: int) -> tuple[float, Reasons]:
        p = self.params
        assert snap.close is not None and snap.rolling_vwap is not None
        eroded = {"reached": 30.0, "pulled": 20.0}.get(level.ended or "", 15.0)
        share = max(0.0, sign * (snap.normalized_delta or 0.0))
        fp = snap.fp_buy_imbalances if sign > 0 else snap.fp_sell_imbalances
        extremes = [(s.high if sign > 0 else s.low) for s in list(self.recent)[:-1]]
        known = [x for x in extremes if x is not None]
        new_territory = not known or sign * (snap.close - sign * max(sign * x for x in known)) > 0
        vwap_bps = sign * (snap.close - snap.rolling_vwap) / snap.rolling_vwap * 1e4
        score = eroded + 25.0 * min(share, 1.0) + 15.0 * (fp > 0) + 15.0 * new_territory
        score += 15.0 * min(vwap_bps / (5 * p.break_bps), 1.0)
        reasons: Reasons = {
            "kind": "breakout",
            "wall_side": "ask" if level.side == ASK else "bid",
            "wall_price": level.price,
            "wall_max_qty": level.max_qty,
            "wall_end": level.ended,
            "erosion": round(level.erosion, 4),
            "delta": snap.delta,
            "normalized_delta": snap.normalized_delta,
            "rolling_vwap": snap.rolling_vwap,
            "footprint_imbalances": fp,
            "new_territory": new_territory,
        }
        return score, reasons

    def _bounce(self, snap: Snapshot, level: _Level) -> Signal | None:
        p = self.params
        sign = level.side  # off a BID wall (+1) is a LONG
        extreme = snap.low if sign > 0 else snap.high
        assert extreme is not None and snap.close is not None
        alive = level.ended is None and level.seen_ms == snap.time_ms
        kept = alive and level.erosion <= p.hold_max_erosion
        through = sign * (extreme - level.price) < -snap.tick_size / 2
        if not kept or through:
            level.touched, level.held, level.delta = False, 0, 0.0
            return None
        if not level.touched:
            touch = level.price * p.touch_bps * 1e-4
            if p.touch_ticks:
                touch = p.touch_ticks * snap.tick_size
            level.touched = sign * (extreme - level.price) <= touch
            return None
        level.held += 1
        level.delta += snap.delta
        if level.held < p.hold_bars or sign * (snap.close - level.price) < 0:
            return None
        offset = p.entry_offset_ticks * snap.tick_size
        if offset and sign * (snap.close - level.price) > offset + snap.tick_size / 2:
            return None  # above where the seed's limit order at the offset would fill
        if p.bounce_max_activity and not self._quiet(level.held):
            return None
        stop = level.price * (1 - sign * p.bounce_stop_bps * 1e-4)
        return self._emit(snap, sign, stop, self._bounce_score(snap, level, sign))

    def _quiet(self, held: int) -> bool:
        """The hold's mean bar volume is at most `bounce_max_activity` × the mean of the
        remembered bars before it (none yet: not judged)."""
        volumes = [s.volume for s in self.recent]
        before, hold = volumes[:-held], volumes[-held:]
        if not before:
            return True
        mean = sum(before) / len(before)
        return sum(hold) / len(hold) <= self.params.bounce_max_activity * mean

    def _bounce_score(self, snap: Snapshot, level: _Level, sign: int) -> tuple[float, Reasons]:
        p = self.params
        assert snap.close is not None
        imbalance = sign * (snap.imbalance or 0.0)
        fp = snap.fp_buy_imbalances if sign > 0 else snap.fp_sell_imbalances
        near = abs(snap.close - level.price) <= level.price * p.touch_bps * 1e-4
        score = 30.0 * (1.0 - level.erosion) + 25.0 * min(max(imbalance, 0.0) / 0.5, 1.0)
        score += 15.0 * (sign * level.delta > 0) + 15.0 * (fp > 0) + 15.0 * near
        reasons: Reasons = {
            "kind": "bounce",
            "wall_side": "bid" if level.side == BID else "ask",
            "wall_price": level.price,
            "wall_qty": level.qty,
            "wall_max_qty": level.max_qty,
            "held_bars": level.held,
            "hold_delta": level.delta,
            "imbalance": snap.imbalance,
            "footprint_imbalances": fp,
        }
        return score, reasons
