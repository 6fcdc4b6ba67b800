"""What the three strategies share (params, spacing, quality, the signal they build), and the
hand-built snapshots their unit tests use: `bar(i, ...)` and `mirror(snap)`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from indicators.walls import Wall, WallEvent
from settings import SettingsError
from strategy.signals import Quality, Side
from strategy.snapshot import Snapshot
from strategy.strategies import REGISTRY
from strategy.strategies.base import Spacing, make_signal, quality_of

T0 = 1_790_000_000_000
BAR_MS = 60_000
TICK = 0.01
PIVOT = 200.0  # mirror prices around 100: p -> 200 - p


def bar(i: int, price: float = 100.0, **values: object) -> Snapshot:
    """Bar `i` of a quiet market at `price` (one tick wide), with `values` overriding fields."""
    snap = Snapshot(T0 + i * BAR_MS, "BTCUSDT", BAR_MS, tick_size=TICK)
    snap.open = snap.high = snap.low = snap.close = price
    snap.volume, snap.buy_volume, snap.sell_volume, snap.trades = 10.0, 5.0, 5.0, 20
    snap.book_valid, snap.best_bid, snap.best_ask = True, price - TICK, price
    snap.imbalance, snap.rolling_vwap, snap.atr = 0.0, price, 0.5
    for name, value in values.items():
        if not hasattr(snap, name):
            raise AttributeError(name)
        setattr(snap, name, value)
    return snap


def wall(side: int, price: float, qty: float, max_qty: float | None = None, i: int = 0) -> Wall:
    """A wall first seen at bar `i` (persistent from the next bars on)."""
    first = T0 + i * BAR_MS
    return Wall(side, round(price / TICK), qty, max_qty or qty, first, first)


def _flip(price: float | None) -> float | None:
    return None if price is None else round(PIVOT - price, 8)


def _flip_wall(w: Wall) -> Wall:
    return w._replace(side=-w.side, ticks=round(PIVOT / TICK) - w.ticks)


def mirror(s: Snapshot) -> Snapshot:
    """The same bar with buyers and sellers swapped and prices reflected around 100."""
    out = replace(s)
    out.open, out.close = _flip(s.open), _flip(s.close)
    out.high, out.low = _flip(s.low), _flip(s.high)
    out.buy_volume, out.sell_volume, out.delta = s.sell_volume, s.buy_volume, -s.delta
    out.normalized_delta = None if s.normalized_delta is None else -s.normalized_delta
    out.large_buys, out.large_sells = s.large_sells, s.large_buys
    out.vwap, out.rolling_vwap = _flip(s.vwap), _flip(s.rolling_vwap)
    out.best_bid, out.best_ask = _flip(s.best_ask), _flip(s.best_bid)
    out.imbalance = None if s.imbalance is None else -s.imbalance
    out.bid_wall_price, out.ask_wall_price = _flip(s.ask_wall_price), _flip(s.bid_wall_price)
    out.bid_wall_qty, out.ask_wall_qty = s.ask_wall_qty, s.bid_wall_qty
    out.bid_wall_bps, out.ask_wall_bps = s.ask_wall_bps, s.bid_wall_bps
    out.absorption_side, out.absorption_price = -s.absorption_side, _flip(s.absorption_price)
    out.panic_direction, out.cascade_side, out.divergence = (
        -s.panic_direction,
        -s.cascade_side,
        -s.divergence,
    )
    out.liq_sell_notional, out.liq_buy_notional = s.liq_buy_notional, s.liq_sell_notional
    out.fp_buy_imbalances, out.fp_sell_imbalances = s.fp_sell_imbalances, s.fp_buy_imbalances
    out.fp_buy_zones, out.fp_sell_zones = s.fp_sell_zones, s.fp_buy_zones
    out.walls = tuple(_flip_wall(w) for w in s.walls)
    out.wall_events = tuple(WallEvent(e.kind, _flip_wall(e.wall)) for e in s.wall_events)
    return out


def run(strategy: object, snaps: list[Snapshot]) -> list:
    return [sig for s in snaps if (sig := strategy.on_bar(s)) is not None]  # type: ignore[attr-defined]


# -- tests of base.py -----------------------------------------------------------------------


def test_registry_names_the_four_strategies():
    assert sorted(REGISTRY) == ["composite", "macd_book", "scored_imbalance", "wall"]
    for name, cls in REGISTRY.items():
        assert cls.name == name
        strategy = cls("BTCUSDT", {})
        assert strategy.on_bar(bar(0)) is None


@pytest.mark.parametrize("name", ["composite", "scored_imbalance", "wall"])
def test_unknown_or_bad_parameters_name_the_key(name):
    with pytest.raises(SettingsError, match=rf"\[strategies\.{name}\] nope: unknown"):
        REGISTRY[name]("BTCUSDT", {"nope": 1})
    with pytest.raises(SettingsError, match="targets_r"):
        REGISTRY[name]("BTCUSDT", {"targets_r": [1.0, 2.0, 3.0]})
    with pytest.raises(SettingsError, match="cooldown_bars"):
        REGISTRY[name]("BTCUSDT", {"cooldown_bars": -1})


@pytest.mark.parametrize("name", ["composite", "scored_imbalance", "wall"])
def test_toml_lists_become_tuples(name):
    strategy = REGISTRY[name]("BTCUSDT", {"targets_r": [2, 1]})
    assert strategy.params.targets_r == (2.0, 1.0)


def test_quality_thresholds_are_inclusive():
    assert quality_of(80, 80, 65) is Quality.HIGH
    assert quality_of(79.9, 80, 65) is Quality.MEDIUM
    assert quality_of(65, 80, 65) is Quality.MEDIUM
    assert quality_of(64.9, 80, 65) is Quality.LOW


def test_spacing_counts_bars_from_the_last_signal():
    spacing = Spacing(3)
    assert spacing.allows(bar(0))
    spacing.mark(bar(0))
    assert not spacing.allows(bar(2))
    assert spacing.allows(bar(3))


def test_signal_enters_at_the_close_dated_at_the_bar_end_with_targets_on_ticks():
    snap = bar(5, 100.0)
    signal = make_signal(snap, "x", Side.LONG, 99.333, (3.0, 1.5), 70.004, Quality.MEDIUM, {})
    assert signal.time_ms == snap.time_ms + BAR_MS  # known only once the bar has closed
    assert signal.entry == 100.0
    assert signal.stop == 99.33
    assert signal.targets == (101.0, 102.0)  # nearest first, 1.5R and 3R of 0.667, on ticks
    assert signal.score == 70.0
    short = make_signal(snap, "x", Side.SHORT, 101.0, (1.0,), 50, Quality.LOW, {})
    assert short.targets == (99.0,)


def test_mirror_is_its_own_inverse():
    snap = bar(1, 100.5, low=100.2, high=100.9, bid_wall_price=100.2, delta=3.0)
    snap.walls = (wall(1, 100.2, 40.0),)
    back = mirror(mirror(snap))
    assert back.row() == snap.row() and back.walls == snap.walls
