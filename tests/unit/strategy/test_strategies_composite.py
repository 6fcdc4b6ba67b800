"""The composite strategy (seed 004 §4.8) on hand-built snapshot sequences."""

from __future__ import annotations

import pytest

from indicators.types import BookState, Level
from strategy.signals import Quality, Side
from strategy.snapshot import Snapshot
from strategy.strategies.composite import CompositeStrategy
from tests.unit.strategy.test_strategies_base import BAR_MS, T0, bar, mirror, run

WALL = 100.0
CASCADE = {"cascade_side": -1, "cascade_start_ms": T0 + 2 * BAR_MS}


def trigger(i: int, **values: object) -> Snapshot:
    """Price holding on a bid wall at 100.00 while sells are absorbed, book and footprint on
    the buyers' side."""
    fields: dict[str, object] = {
        "low": WALL,
        "high": 100.1,
        "bid_wall_price": WALL,
        "bid_wall_bps": 0.5,
        "absorption": 1.5,
        "absorption_side": -1,
        "absorption_price": WALL,
        "imbalance": 0.3,
        "fp_buy_imbalances": 1,
        "delta": -8.0,
        **CASCADE,
        "cascade_exhaustion": 0.95,
        "cascade_exhausted": True,
    }
    fields.update(values)
    return bar(i, 100.05, **fields)


def setup(panic: bool = True, cascade: bool = True, **values: object) -> list[Snapshot]:
    """Quiet bars, a panic-selling bar that starts a long-liquidation cascade, the cascade
    running, its exhaustion (with a bullish divergence), then the trigger bar (bar 6)."""
    flow = CASCADE if cascade else {}
    snaps = [bar(0, 100.5), bar(1, 100.5)]
    panicky = {"panic_score": 1.0, "panic_direction": -1} if panic else {"panic_score": 0.5}
    snaps.append(bar(2, 100.1, low=WALL, high=100.5, **panicky, **flow))
    snaps += [bar(i, 100.1, low=WALL, cascade_exhaustion=0.3, **flow) for i in (3, 4)]
    exhausted = {"cascade_exhaustion": 0.9, "cascade_exhausted": True} if cascade else {}
    snaps.append(bar(5, 100.1, low=WALL, divergence=1, **flow, **exhausted))
    last = trigger(6, **values)
    if not cascade:
        last.cascade_side, last.cascade_start_ms, last.cascade_exhausted = 0, None, False
    return [*snaps, last]


def test_long_after_an_exhausted_cascade_at_an_absorbing_bid_wall():
    snaps = setup()
    signals = run(CompositeStrategy("BTCUSDT", {}), snaps)
    assert len(signals) == 1
    signal = signals[0]
    assert signal.side is Side.LONG and signal.strategy == "composite"
    assert signal.time_ms == snaps[-1].end_ms
    assert signal.entry == 100.05
    assert signal.stop == 99.95  # 5 bps under the wall, the lowest low of the episode
    assert signal.targets == (100.2, 100.35)  # 1.5R and 3R
    # 25 cascade + 15 panic + 9.9 wall + 11.25 absorption + 6 imbalance + 3.33 fp + 15 div
    assert signal.score == pytest.approx(85.48, abs=0.01)
    assert signal.quality is Quality.HIGH
    reasons = signal.reasons
    assert reasons["cascade_exhausted"] is True and reasons["panic"] is True
    assert reasons["wall_price"] == WALL and reasons["absorption"] == 1.5
    assert reasons["divergence"] is True and reasons["fp_imbalance_bars"] == 1
    assert run(CompositeStrategy("BTCUSDT", {}), setup()) == signals  # deterministic


def test_never_fires_while_the_cascade_is_still_running():
    running = {"cascade_exhausted": False, "cascade_exhaustion": 0.4}
    snaps = setup(**running)
    assert run(CompositeStrategy("BTCUSDT", {}), snaps) == []
    # the same bar once the cascade is exhausted
    strategy = CompositeStrategy("BTCUSDT", {})
    later = [*snaps, trigger(7)]
    signals = run(strategy, later)
    assert [s.time_ms for s in signals] == [later[-1].end_ms]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"bid_wall_price": None, "bid_wall_bps": None}, id="no bid wall"),
        pytest.param({"bid_wall_bps": 60.0}, id="wall further than 50 bps"),
        pytest.param({"absorption_side": 1}, id="buys absorbed, not sells"),
        pytest.param({"absorption": 0.9}, id="weak absorption"),
        pytest.param({"absorption": None, "absorption_side": 0}, id="absorption undefined"),
        pytest.param({"low": 99.97}, id="traded through the wall"),
        pytest.param({"imbalance": -0.5}, id="book heavily against"),
        pytest.param({"imbalance": None}, id="no book"),
        pytest.param({"trades": 0}, id="nothing traded"),
    ],
)
def test_each_required_condition_matters(values):
    assert len(run(CompositeStrategy("BTCUSDT", {}), setup())) == 1
    assert run(CompositeStrategy("BTCUSDT", {}), setup(**values)) == []


def test_context_is_required_and_either_part_is_enough():
    assert run(CompositeStrategy("BTCUSDT", {}), setup(panic=False, cascade=False)) == []
    panic_only = run(CompositeStrategy("BTCUSDT", {}), setup(cascade=False))
    cascade_only = run(CompositeStrategy("BTCUSDT", {}), setup(panic=False))
    assert [s.reasons["cascade_exhausted"] for s in panic_only] == [False]
    assert [s.reasons["panic"] for s in cascade_only] == [False]
    assert panic_only[0].score == pytest.approx(85.48 - 25, abs=0.01)
    assert cascade_only[0].score == pytest.approx(85.48 - 15, abs=0.01)


def test_context_expires_after_the_window():
    snaps = setup()
    assert run(CompositeStrategy("BTCUSDT", {"context_window_bars": 4}), snaps) != []
    assert run(CompositeStrategy("BTCUSDT", {"context_window_bars": 3}), snaps) == []


def test_confirmations_only_change_the_score():
    bare = setup(imbalance=0.0, fp_buy_imbalances=0)
    for s in bare:
        s.divergence = 0
    signals = run(CompositeStrategy("BTCUSDT", {}), bare)
    assert [s.quality for s in signals] == [Quality.MEDIUM]
    assert signals[0].score == pytest.approx(25 + 15 + 9.9 + 11.25, abs=0.01)
    lone = run(CompositeStrategy("BTCUSDT", {}), [*bare[:2], *setup(panic=False)[2:6], bare[-1]])
    assert [s.quality for s in lone] == [Quality.MEDIUM]  # 25 cascade + 21.15 + 15 divergence


def test_mirrored_short_after_a_short_squeeze_at_an_ask_wall():
    long_signal = run(CompositeStrategy("BTCUSDT", {}), setup())[0]
    signals = run(CompositeStrategy("BTCUSDT", {}), [mirror(s) for s in setup()])
    assert len(signals) == 1
    short = signals[0]
    assert short.side is Side.SHORT
    assert short.entry == pytest.approx(200 - long_signal.entry)
    assert short.stop == pytest.approx(200 - long_signal.stop)  # above the ask wall
    assert short.targets == pytest.approx(tuple(200 - t for t in long_signal.targets))
    assert short.score == long_signal.score and short.quality is long_signal.quality


def test_one_signal_per_context_and_spacing_between_contexts():
    strategy = CompositeStrategy("BTCUSDT", {"cooldown_bars": 10})
    snaps = setup()
    snaps += [trigger(i) for i in range(7, 12)]  # the same episode goes on: no new signal
    assert len(run(strategy, snaps)) == 1
    second = {"cascade_start_ms": T0 + 12 * BAR_MS}  # a new cascade, inside the cooldown
    assert run(strategy, [trigger(i, **second) for i in range(12, 16)]) == []
    third = {"cascade_start_ms": T0 + 16 * BAR_MS}  # a new cascade after the cooldown
    signals = run(strategy, [trigger(i, **third) for i in range(16, 18)])
    assert [s.time_ms for s in signals] == [T0 + 17 * BAR_MS]


def test_reasons_carry_the_bars_cascade_state_even_when_it_did_not_score():
    """An exhausted cascade that started before the window: the signal rides the panic, and
    its reasons still say what the bar row says (exhausted), with `cascade_context` false."""
    snaps = setup()
    old = T0 - 100 * BAR_MS
    for s in snaps:
        if s.cascade_side == -1:
            s.cascade_start_ms = old
    signals = run(CompositeStrategy("BTCUSDT", {}), snaps)
    assert len(signals) == 1
    reasons, row = signals[0].reasons, snaps[-1]
    assert reasons["cascade_context"] is False and reasons["panic"] is True
    assert (reasons["cascade_exhausted"], reasons["cascade_side"]) == (True, -1)
    assert (reasons["cascade_exhausted"], reasons["cascade_start_ms"]) == (
        row.cascade_exhausted,
        row.cascade_start_ms,
    )
    assert signals[0].score == pytest.approx(85.48 - 25, abs=0.01)


def test_only_a_regular_divergence_confirms():
    hidden = setup()
    hidden[5].divergence = 2  # hidden bullish: a higher price low with a lower CVD low
    signals = run(CompositeStrategy("BTCUSDT", {}), hidden)
    assert signals[0].reasons["divergence"] is False
    assert signals[0].score == pytest.approx(85.48 - 15, abs=0.01)


# -- seed 004 as written: confirmations required, panic and liquidity filters ----------------

STRICT = {"require_confirmations": True}


def without_divergence(snaps: list[Snapshot]) -> list[Snapshot]:
    for snap in snaps:
        snap.divergence = 0
    return snaps


@pytest.mark.parametrize(
    ("change", "fires"),
    [
        pytest.param({}, True, id="all three confirmations"),
        pytest.param({"imbalance": -0.1}, False, id="book not positive"),
        pytest.param({"fp_buy_imbalances": 0}, False, id="no footprint spike"),
    ],
)
def test_required_confirmations(change, fires):
    snaps = setup(**change)
    if "fp_buy_imbalances" in change:
        for snap in snaps:
            snap.fp_buy_imbalances = 0
    assert len(run(CompositeStrategy("BTCUSDT", STRICT), snaps)) == int(fires)
    # scored only (the default), each missing confirmation still lets it fire
    assert len(run(CompositeStrategy("BTCUSDT", {}), setup(**change))) == 1


def test_a_missing_divergence_blocks_only_when_required():
    assert run(CompositeStrategy("BTCUSDT", STRICT), without_divergence(setup())) == []
    assert len(run(CompositeStrategy("BTCUSDT", {}), without_divergence(setup()))) == 1


def test_panic_too_high_and_low_liquidity_filters():
    assert run(CompositeStrategy("BTCUSDT", {"panic_max": 0.9}), setup(panic_score=0.99)) == []
    assert len(run(CompositeStrategy("BTCUSDT", {"panic_max": 0.9}), setup(panic_score=0.5))) == 1

    def with_depth(qty: float) -> list[Snapshot]:
        snaps = setup()
        top = round(100.04 / 0.01)
        bids = [Level(top - i, qty) for i in range(10)]
        asks = [Level(top + 1 + i, qty) for i in range(10)]
        snaps[-1].book = BookState(0, bids, asks, 0.01)
        snaps[-1].best_bid, snaps[-1].best_ask = 100.04, 100.05
        return snaps

    thin = {"min_book_notional": 5000.0}
    assert run(CompositeStrategy("BTCUSDT", thin), with_depth(4.0)) == []  # ~4000 a side
    assert len(run(CompositeStrategy("BTCUSDT", thin), with_depth(6.0))) == 1
