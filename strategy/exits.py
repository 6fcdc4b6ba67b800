"""A strategy's exit rules beyond its stop and targets: `[strategies.NAME.exits]`.

- `breakeven_pct`: once a trade reaches this profit (% of the entry), the stop moves to the entry
  (seed 002: `breakout_breakeven_profit_percent` 0.5).
- `trail_pct` (with `trail_after_pct`): once the profit reached `trail_after_pct` %, the stop
  follows the best price at `trail_pct` % behind it (a trailing take-profit; never loosened).
- `max_hold`: close at a bar close this long after the entry; a duration, or one per signal
  quality `{ HIGH = "45m", MEDIUM = "90m", LOW = "3h" }` (seed 001 §8.1 hold times). Without it
  `[paper] max_hold` applies.
The paper executor applies the first two on every recorded trade and the engine the third at
bar closes, so a backtest and a live paper worker exit the same way. Strategies may add their own
exits read from the book at bar closes (`exit_on_bar`: the wall strategy's erosion exit, the MACD
strategy's book-confirmed stop levels).

The Binance executor applies the same rules to its live positions through `ExitWatch`, fed the
same recorded trades and bar closes by the worker: a moved stop becomes a new exchange-side stop
order, a time or strategy exit a reduce-only MARKET close (strategy/binance/exits.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from settings import SettingsError, parse_duration
from strategy.signals import Signal
from strategy.snapshot import Snapshot

QUALITIES = ("HIGH", "MEDIUM", "LOW")
KEYS = ("breakeven_pct", "trail_pct", "trail_after_pct", "max_hold")


@dataclass(frozen=True)
class ExitRules:
    breakeven_pct: float = 0.0  # 0: off
    trail_pct: float = 0.0  # 0: off
    trail_after_pct: float = 0.0
    max_hold_ms: tuple[tuple[str, int], ...] = ()  # per quality; empty: [paper] max_hold

    def hold_ms(self, quality: str, default: int) -> int:
        return dict(self.max_hold_ms).get(quality, default)


def parse_exits(where: str, body: Any) -> ExitRules:
    """`[strategies.NAME.exits]` as ExitRules; SettingsError names a bad key or value."""
    if not isinstance(body, dict):
        raise SettingsError(f"{where} exits: expected a table with {', '.join(KEYS)}")
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key not in KEYS:
            raise SettingsError(f"{where} exits.{key}: unknown key (allowed: {', '.join(KEYS)})")
        if key == "max_hold":
            values["max_hold_ms"] = _hold(f"{where} exits.max_hold", value)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise SettingsError(f"{where} exits.{key}: expected a percentage >= 0, got {value!r}")
        values[key] = float(value)
    return ExitRules(**values)


def _hold(name: str, value: Any) -> tuple[tuple[str, int], ...]:
    if isinstance(value, dict):
        bad = [q for q in value if q not in QUALITIES]
        if bad:
            raise SettingsError(f"{name}: {bad[0]!r} is not a quality ({', '.join(QUALITIES)})")
        return tuple((q, _duration(f"{name}.{q}", value[q])) for q in QUALITIES if q in value)
    ms = _duration(name, value)
    return tuple((q, ms) for q in QUALITIES)


def _duration(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SettingsError(f"{name}: expected a duration like 45m, got {value!r}")
    if isinstance(value, int | float):
        if value <= 0:
            raise SettingsError(f"{name}: expected a duration > 0, got {value!r}")
        return int(value * 1000)
    return int(parse_duration(name, value) * 1000)


def moved_stop(
    rules: ExitRules,
    sign: int,
    entry: float,
    best: float,
    stop: float,
    rounded: Callable[[float], float] = float,
) -> float:
    """The stop after the rules, given the best price since the entry (never loosened):
    at the entry once the best gain reached `breakeven_pct`, `trail_pct` behind the best price
    once it reached `trail_after_pct` (rounded to the tick by `rounded`)."""
    gain_pct = sign * (best - entry) / entry * 100
    if rules.breakeven_pct and gain_pct >= rules.breakeven_pct:
        stop = sign * max(sign * stop, sign * entry)
    if rules.trail_pct and gain_pct >= rules.trail_after_pct:
        trailed = rounded(best * (1 - sign * rules.trail_pct / 100))
        stop = sign * max(sign * stop, sign * trailed)
    return stop


def stop_kind(rules: ExitRules, sign: int, entry: float, stop: float) -> str:
    """What a stop at `stop` is when it fills: breakeven (at the entry), trailing (moved past
    the entry by trailing), else the stop (an entry can fill beyond its signal's stop)."""
    if stop == entry:
        return "breakeven"
    return "trailing" if rules.trail_pct and sign * (stop - entry) > 0 else "stop"


@dataclass(frozen=True)
class ExitAction:
    """What the exit rules ask of a live position at the close of the bar ending `time_ms`:
    kind "move" (the stop to `stop`) or an exit kind (time, density_erosion, ...) to close it."""

    signal_id: uuid.UUID
    symbol: str
    time_ms: int
    kind: str
    stop: float | None = None


ExitCheck = Callable[[Snapshot, Signal, float | None], str | None]


@dataclass
class ExitWatch:
    """A live exchange position under its exit rules, stepped bar by bar as the engine steps
    a paper position: the trades of the bar move the stop, then at the bar close the time exit,
    then the strategy's own exit. Stop moves within a bar become one move at its close."""

    signal: Signal
    entry_price: float
    entry_time_ms: int
    stop: float
    rules: ExitRules
    hold_ms: int  # 0: no time exit
    best: float | None = None
    done: bool = False  # a close was asked: nothing more

    def bar(
        self,
        end_ms: int,
        trades: Sequence[tuple[int, float]],
        snap: Snapshot | None,
        check: ExitCheck | None,
        rounded: Callable[[float], float] = float,
    ) -> list[ExitAction]:
        """The actions at the close of the bar ending `end_ms`, from its trades (time, price)."""
        if self.done:
            return []
        sign, before = self.signal.side.sign, self.stop
        for time_ms, price in trades:
            if time_ms <= self.entry_time_ms:
                continue
            self.best = price if self.best is None else sign * max(sign * self.best, sign * price)
            self.stop = moved_stop(self.rules, sign, self.entry_price, self.best, self.stop,
                                   rounded)  # fmt: skip
        out = []
        if self.stop != before:
            out.append(self._action(end_ms, "move", self.stop))
        if self.hold_ms and self.entry_time_ms + self.hold_ms <= end_ms:
            reason: str | None = "time"
        elif check is not None and snap is not None and snap.close is not None:
            reason = check(snap, self.signal, self.entry_price)
        else:
            reason = None
        if reason is not None:
            self.done = True
            out.append(self._action(end_ms, reason))
        return out

    def _action(self, time_ms: int, kind: str, stop: float | None = None) -> ExitAction:
        s = self.signal
        return ExitAction(s.signal_id, s.symbol, time_ms, kind, stop)
