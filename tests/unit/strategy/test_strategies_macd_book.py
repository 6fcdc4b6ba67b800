"""The MACD + order book strategy of seed 003 on hand-built bars and books."""

from __future__ import annotations

import pytest

from indicators.types import BookState, Level
from settings import SettingsError
from strategy.signals import Side
from strategy.snapshot import Snapshot
from strategy.strategies.macd_book import MacdBookStrategy
from tests.unit.strategy.test_strategies_base import BAR_MS, TICK, bar, run

FAST = {"macd_bar": "1m", "fast": 3, "slow": 6, "signal": 3, "cooldown_bars": 0}


def book(price: float, bid_qty: float = 20.0, ask_qty: float = 20.0, spread_ticks: int = 1,
         extra: dict[int, float] | None = None) -> BookState:  # fmt: skip
    """120 levels a side, one tick apart, around `price`; `extra` sets single levels (ticks)."""
    best_bid = round(price / TICK) - spread_ticks
    best_ask = round(price / TICK)
    bids = [Level(best_bid - i, bid_qty) for i in range(120)]
    asks = [Level(best_ask + i, ask_qty) for i in range(120)]
    for ticks, qty in (extra or {}).items():
        side = bids if ticks <= best_bid else asks
        side[:] = [Level(lv.ticks, qty if lv.ticks == ticks else lv.qty) for lv in side]
    return BookState(0, bids, asks, TICK)


def series(prices: list[float], imbalance: float = 0.0, **book_args: object) -> list[Snapshot]:
    snaps = []
    for i, price in enumerate(prices):
        snap = bar(i, price, imbalance=imbalance)
        snap.book = book(price, **book_args)  # type: ignore[arg-type]
        snaps.append(snap)
    return snaps


DOWN_UP = [110 - i for i in range(10)] + [100 + 0.5 * i for i in range(1, 8)]


def test_buys_when_the_histogram_turns_positive_and_the_book_agrees():
    signals = run(MacdBookStrategy("BTCUSDT", FAST), series(DOWN_UP))
    assert len(signals) == 1
    signal = signals[0]
    assert signal.side is Side.LONG
    assert signal.reasons["macd_histogram_before"] <= 0 < signal.reasons["macd_histogram"]
    assert signal.stop == pytest.approx(signal.entry * 0.97, abs=TICK)  # emergency level 3 %
    assert signal.targets == (pytest.approx(signal.entry * 1.01, abs=TICK),)  # profit markup 1 %
    assert signal.reasons["liquid_levels"] >= 15 and signal.reasons["spread_pct"] <= 0.3
    assert signal.score >= 60


@pytest.mark.parametrize(
    ("book_args", "why"),
    [
        pytest.param({"spread_ticks": 50}, "spread", id="spread above 0.3 %"),
        pytest.param({"bid_qty": 5.0, "ask_qty": 5.0}, "low_liquidity", id="thin book"),
        pytest.param({"imbalance": -0.1}, "negative_imbalance", id="asks outweigh bids"),
        pytest.param({"ask_qty": 0.05}, "low_liquidity", id="no depth to buy into"),
    ],
)
def test_the_book_rejects_the_macd_signal(book_args, why):
    strategy = MacdBookStrategy("BTCUSDT", FAST)
    assert run(strategy, series(DOWN_UP, **book_args)) == []
    assert strategy.rejected == {why: 1}


def test_slippage_and_required_support():
    strategy = MacdBookStrategy("BTCUSDT", {**FAST, "typical_order_size": 100_000.0})
    assert run(strategy, series(DOWN_UP)) == [] and strategy.rejected == {"slippage": 1}
    strategy = MacdBookStrategy("BTCUSDT", {**FAST, "require_orderbook_support": True})
    assert run(strategy, series(DOWN_UP)) == [] and strategy.rejected == {"no_support": 1}


def test_a_resistance_wall_caps_the_target_one_tick_below_it():
    plain = run(MacdBookStrategy("BTCUSDT", FAST), series(DOWN_UP))[0]
    wall = round((plain.entry + 0.8) / TICK)  # below the 1 % target, above half of it
    snaps = series(DOWN_UP)
    for snap in snaps:
        assert snap.close is not None
        snap.book = book(snap.close, extra={wall: 100.0})
    capped = run(MacdBookStrategy("BTCUSDT", FAST), snaps)[0]
    assert capped.reasons["resistance"] == pytest.approx(wall * TICK)
    assert capped.targets == (pytest.approx(wall * TICK - TICK),)
    near = round((plain.entry + 0.3) / TICK)  # would leave less than half the markup
    for snap in snaps:
        assert snap.close is not None
        snap.book = book(snap.close, extra={near: 100.0})
    strategy = MacdBookStrategy("BTCUSDT", FAST)
    assert run(strategy, snaps) == [] and strategy.rejected == {"resistance": 1}


def test_macd_runs_on_its_own_bar_size():
    # 1 min engine bars, 3 min MACD bars: decisions only at the close of a 3 min bar.
    prices = [p for p in DOWN_UP for _ in range(3)]
    signals = run(MacdBookStrategy("BTCUSDT", {**FAST, "macd_bar": "3m"}), series(prices))
    assert len(signals) == 1
    end = signals[0].time_ms  # the end of an engine bar that crossed a multiple of 3 min
    assert (end - BAR_MS) // (3 * BAR_MS) < end // (3 * BAR_MS)
    with pytest.raises(SettingsError, match="macd_bar: expected a duration from 1s to 1h"):
        MacdBookStrategy("BTCUSDT", {"macd_bar": "4h"})


def test_three_level_stop_reads_the_book():
    strategy = MacdBookStrategy("BTCUSDT", FAST)
    entry = 100.0
    signal = run(strategy, series(DOWN_UP))[0]

    def at(price: float, imbalance: float = 0.0, **book_args: object) -> str | None:
        snap = bar(100, price, imbalance=imbalance)
        snap.book = book(price, **book_args)  # type: ignore[arg-type]
        return strategy.exit_on_bar(snap, signal, entry)

    support = {"extra": {round(98.7 / TICK): 200.0}}
    assert at(99.5) is None  # 0.5 % loss: below the first level
    assert at(98.9) is None  # warning level, balanced book
    assert at(98.9, imbalance=-0.5) == "stop_warning"  # warning level, sellers dominate
    assert at(98.9, imbalance=-0.5, **support) is None  # ... but a support wall holds below
    assert at(97.9) == "stop_critical"  # critical level, no support wall
    assert at(97.9, imbalance=0.2, extra={round(97.7 / TICK): 200.0}) is None
