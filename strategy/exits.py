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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from settings import SettingsError, parse_duration

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
