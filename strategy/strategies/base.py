"""What every strategy is: a small object per (strategy, symbol) fed one snapshot per bar."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar, Protocol

from settings import SettingsError
from strategy.signals import Signal
from strategy.snapshot import Snapshot


class Strategy(Protocol):
    name: ClassVar[str]

    def on_bar(self, snap: Snapshot) -> Signal | None:
        """Called at every bar close of its symbol, in time order; returns at most one signal.
        Must be deterministic: the same snapshots give the same signals, live or backtest."""
        ...


def build_params(cls: type, strategy: str, values: dict[str, Any]) -> Any:
    """A strategy's frozen params dataclass from the config file, naming any unknown key."""
    known = {f.name for f in fields(cls)}
    for key in values:
        if key not in known:
            raise SettingsError(f"[strategies.{strategy}] {key}: unknown parameter")
    return cls(**values)
