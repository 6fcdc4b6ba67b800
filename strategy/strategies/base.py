"""What every strategy is: a small object per (strategy, symbol) fed one snapshot per bar."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from settings import SettingsError
from strategy.signals import Quality, Side, Signal
from strategy.snapshot import Snapshot


class Strategy(Protocol):
    name: ClassVar[str]

    def on_bar(self, snap: Snapshot) -> Signal | None:
        """Called at every bar close of its symbol, in time order; returns at most one signal.
        Must be deterministic: the same snapshots give the same signals, live or backtest.
        A strategy may also define `exit_on_bar(snap, signal, entry_price) -> str | None`:
        called at each bar close while its position is open (paper, EXECUTION=off, backtest),
        a reason closes it at the last price (strategy/engine.py `_strategy_exit`)."""
        ...


def build_params(cls: type, strategy: str, values: dict[str, Any]) -> Any:
    """A strategy's frozen params dataclass from the config file, naming any unknown key."""
    known = {f.name: f.default for f in fields(cls)}
    for key, value in values.items():
        if key not in known:
            allowed = ", ".join(known)
            raise SettingsError(
                f"[strategies.{strategy}] {key}: unknown parameter (allowed: {allowed})"
            )
        if not _same_kind(value, known[key]):
            raise SettingsError(
                f"[strategies.{strategy}] {key}: expected {_kind(known[key])}, got {value!r}"
            )
    return cls(**values)


def _same_kind(value: Any, default: Any) -> bool:
    """A TOML value fits a parameter whose default is `default` (ints fit floats; a list of
    numbers fits a tuple)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, tuple):
        return isinstance(value, list | tuple) and all(_same_kind(v, default[0]) for v in value)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, tuple):
        return "a list of numbers"
    return {int: "an integer", float: "a number"}.get(type(default), type(default).__name__)


# -- helpers the strategies share ----------------------------------------------------------------


def resolve_params(cls: type, strategy: str, params: Any) -> Any:
    """`params` as given when it is already the dataclass, else built from the config's dict."""
    return params if isinstance(params, cls) else build_params(cls, strategy, params)


def check_exits(strategy: str, targets_r: Any, cooldown_bars: int) -> tuple[float, ...]:
    """Validate the parameters every strategy has; returns `targets_r` as a tuple of floats
    (TOML gives a list)."""
    targets = tuple(float(r) for r in targets_r)
    check_param(1 <= len(targets) <= 2, strategy, "targets_r", "one or two R multiples")
    check_param(all(r > 0 for r in targets), strategy, "targets_r", "positive multiples")
    check_param(cooldown_bars >= 0, strategy, "cooldown_bars", ">= 0")
    return targets


def check_param(ok: bool, strategy: str, key: str, expected: str) -> None:
    """Raise SettingsError naming the parameter when a value is out of range."""
    if not ok:
        raise SettingsError(f"[strategies.{strategy}] {key}: expected {expected}")


def quality_of(score: float, high: float, medium: float) -> Quality:
    if score >= high:
        return Quality.HIGH
    if score >= medium:
        return Quality.MEDIUM
    return Quality.LOW


class Spacing:
    """Per-symbol minimum spacing: at most one signal every `bars` bars, so one episode gives one
    signal rather than one per bar (a strategy object already serves a single symbol)."""

    __slots__ = ("bars", "last_ms")

    def __init__(self, bars: int) -> None:
        self.bars = bars
        self.last_ms: int | None = None

    def allows(self, snap: Snapshot) -> bool:
        return self.last_ms is None or snap.time_ms - self.last_ms >= self.bars * snap.bar_ms

    def mark(self, snap: Snapshot) -> None:
        self.last_ms = snap.time_ms


def make_signal(
    snap: Snapshot,
    strategy: str,
    side: Side,
    stop: float,
    targets_r: tuple[float, ...],
    score: float,
    quality: Quality,
    reasons: dict[str, float | int | str | bool | None],
) -> Signal:
    """A signal entering at the bar close, dated at the bar END (the moment it is known, so an
    executor can only fill on later trades), with targets at R multiples of the stop distance."""
    assert snap.close is not None
    entry = snap.close
    risk = entry - stop
    targets = tuple(on_tick(entry + m * risk, snap.tick_size) for m in sorted(targets_r))
    return Signal(
        time_ms=snap.end_ms,
        symbol=snap.symbol,
        strategy=strategy,
        side=side,
        entry=entry,
        stop=on_tick(stop, snap.tick_size),
        targets=targets,
        quality=quality,
        score=round(score, 2),
        reasons=reasons,
    )


def on_tick(price: float, tick: float) -> float:
    # Prices a person can place; the decimals of the tick keep float noise out of the output.
    if tick <= 0:
        return price
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return round(round(price / tick) * tick, decimals)
