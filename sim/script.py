"""Scripted market episodes on a timeline, and the regime (random-process knobs) each one sets.

A script is a list of episodes, each ``{kind, start, duration, symbol?, ...params}`` with times in
seconds from the simulator's start. It comes from a JSON or TOML file, or is built in Python::

    Script([Episode("quiet", 0, 30), Episode("panic_selloff", 30, 60, "BTCUSDT")])

The episodes are the ground truth a strategy test asserts against: ``Script.truth(start_ms)``.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("quiet", "trend", "panic_selloff", "absorption", "wall", "breakout", "exhaustion")


@dataclass(frozen=True)
class Wall:
    """A large resting order the market maintains at ``offset`` ticks behind the best level."""

    side: str  # "b" or "a"
    offset: int  # ticks from the same-side best level when the episode starts
    size: float  # now, in multiples of the instrument's typical order size
    hold: bool  # refilled whenever it is eaten into (absorption)
    erode: bool  # cancelled down to nothing by the episode's end


@dataclass(frozen=True)
class Regime:
    """The knobs of the per-symbol random process at one moment."""

    rate_mult: float = 1.0  # × the configured events/s
    market_share: float = 0.08  # share of events that are market orders
    cancel_share: float = 0.42  # share of events that are cancels (the rest are limit orders)
    buy_prob: float = 0.5  # P(market order buys)
    bid_prob: float = 0.5  # P(limit order or cancel is on the bid side)
    size_mult: float = 1.0  # × market order size
    liquidations_per_s: float = 0.01
    long_liquidated_prob: float = 0.5  # P(a liquidation is a SELL, i.e. a long is closed)
    open_prob: float = 0.5  # P(a trade opens positions rather than closing them)
    wall: Wall | None = None


NORMAL = Regime()


@dataclass(frozen=True)
class Episode:
    kind: str
    start: float  # seconds from the simulator's start
    duration: float
    symbol: str | None = None  # None: every symbol
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown episode kind {self.kind!r}; expected one of {KINDS}")
        if self.duration <= 0:
            raise ValueError(f"episode {self.kind!r} needs a positive duration")

    @property
    def end(self) -> float:
        return self.start + self.duration


def regime_for(episode: Episode, progress: float) -> Regime:
    """The regime ``progress`` ∈ [0, 1] of the way through ``episode``."""
    p = episode.params
    up = p.get("direction", "up") == "up"
    if episode.kind == "quiet":
        return Regime(rate_mult=0.4, market_share=0.04, size_mult=0.5, liquidations_per_s=0.0)
    if episode.kind == "trend":
        bias = float(p.get("strength", 0.68))
        return Regime(
            rate_mult=1.3,
            market_share=0.12,
            buy_prob=bias if up else 1 - bias,
            bid_prob=0.55 if up else 0.45,
            size_mult=1.3,
            open_prob=0.56,
        )
    if episode.kind == "panic_selloff":
        return _panic(float(p.get("peak_liquidations_per_s", 12.0)), progress)
    if episode.kind == "absorption":
        return Regime(
            rate_mult=2.0,
            market_share=0.22,
            buy_prob=0.12,
            size_mult=2.0,
            open_prob=0.55,
            wall=Wall("b", 0, float(p.get("wall_size", 60.0)), hold=True, erode=False),
        )
    if episode.kind == "wall":
        side = "a" if p.get("side", "bid") in ("ask", "a") else "b"
        # The order appears whole, then is cancelled down to nothing by the episode's end.
        size = float(p.get("wall_size", 40.0)) * (1 - progress)
        return Regime(wall=Wall(side, int(p.get("offset", 8)), size, hold=False, erode=True))
    if episode.kind == "exhaustion":
        # Selling has dried up: bids are pulled (cancels fall on the bid side, new orders rest
        # on the ask), so the price drifts to lower lows while market buys outnumber the sells
        # — a lower price low with a higher CVD (seed 004 §4.1's bullish delta divergence).
        return Regime(
            rate_mult=1.5,
            market_share=0.12,
            cancel_share=0.55,
            buy_prob=float(p.get("buy_prob", 0.62)),
            bid_prob=0.2,
            size_mult=0.6,
            liquidations_per_s=0.2,
            long_liquidated_prob=0.9,
        )
    # breakout: a one-sided rush through thinned opposite liquidity
    return Regime(
        rate_mult=2.2,
        market_share=0.22,
        cancel_share=0.45,
        buy_prob=0.82 if up else 0.18,
        bid_prob=0.7 if up else 0.3,
        size_mult=2.5,
        open_prob=0.65,
    )


def _panic(peak: float, progress: float) -> Regime:
    # Liquidations ramp up to a peak a third of the way in, then exhaust exponentially.
    if progress < 0.3:
        liquidations = peak * progress / 0.3
    else:
        liquidations = peak * math.exp(-(progress - 0.3) * 7)
    return Regime(
        rate_mult=3.0,
        market_share=0.25,
        cancel_share=0.5,
        buy_prob=0.15,
        bid_prob=0.35,
        size_mult=3.0,
        liquidations_per_s=liquidations,
        long_liquidated_prob=0.95,
        open_prob=0.3,
    )


class Script:
    """A timeline of episodes; optionally repeated every ``period`` seconds."""

    def __init__(self, episodes: Iterable[Episode] = (), repeat: bool = False) -> None:
        self.episodes = sorted(episodes, key=lambda e: e.start)
        self.repeat = repeat
        self.period = max((e.end for e in self.episodes), default=0.0)

    def active(self, symbol: str, seconds: float) -> tuple[Episode, float] | None:
        """The episode running for ``symbol`` at ``seconds`` from start, and its progress."""
        if self.repeat and self.period > 0:
            seconds %= self.period
        current = None
        for episode in self.episodes:
            if episode.start > seconds:
                break
            if seconds < episode.end and episode.symbol in (None, symbol):
                current = episode  # the latest-starting one wins when episodes overlap
        if current is None:
            return None
        return current, (seconds - current.start) / current.duration

    def regime(self, symbol: str, seconds: float) -> tuple[Regime, int | None]:
        """The regime for ``symbol`` and an id of the running episode occurrence (for walls)."""
        found = self.active(symbol, seconds)
        if found is None:
            return NORMAL, None
        episode, progress = found
        cycle = int(seconds // self.period) if self.repeat and self.period > 0 else 0
        instance = cycle * len(self.episodes) + self.episodes.index(episode)
        return regime_for(episode, progress), instance

    def truth(self, symbols: list[str], start_ms: int, until_ms: int | None = None) -> list[dict]:
        """Ground truth: one record per (episode occurrence, symbol) started before ``until_ms``."""
        cycles = 1
        if self.repeat and self.period > 0 and until_ms is not None:
            cycles = int((until_ms - start_ms) / 1000 // self.period) + 1
        records = []
        for cycle in range(cycles):
            offset = cycle * self.period
            for episode in self.episodes:
                begin = start_ms + round((episode.start + offset) * 1000)
                if until_ms is not None and begin > until_ms:
                    continue
                for symbol in symbols if episode.symbol is None else [episode.symbol]:
                    records.append(_truth_record(episode, symbol, begin))
        records.sort(key=lambda r: (r["start"], r["symbol"]))
        return records


def _truth_record(episode: Episode, symbol: str, begin: int) -> dict:
    return {
        "kind": episode.kind,
        "symbol": symbol,
        "start": begin,
        "end": begin + round(episode.duration * 1000),
        "params": dict(episode.params),
    }


def parse_script(data: dict) -> Script:
    """A script from its dict form: ``{"episodes": [...], "repeat": false}``."""
    episodes = []
    for item in data.get("episodes", []):
        item = dict(item)
        kind = item.pop("kind")
        start = float(item.pop("start", 0))
        duration = float(item.pop("duration"))
        symbol = item.pop("symbol", None)
        episodes.append(Episode(kind, start, duration, symbol.upper() if symbol else None, item))
    return Script(episodes, repeat=bool(data.get("repeat", False)))


def load_script(path: str | Path) -> Script:
    """Read a script from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    text = path.read_text()
    data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    return parse_script(data)
