"""The scored imbalance signal (seed 001 §7) on hand-built snapshot sequences."""

from __future__ import annotations

import pytest

from strategy.signals import Quality, Side
from strategy.snapshot import Snapshot
from strategy.strategies.scored_imbalance import ScoredImbalanceStrategy, seed_score
from tests.unit.strategy.test_strategies_base import bar, mirror, run

PARAMS = {"window_bars": 2, "baseline_bars": 4, "cooldown_bars": 5}


def setup(volume: float = 20.0, large: tuple[int, int] = (2, 2), **last: object) -> list[Snapshot]:
    """Four baseline bars of volume 10, then a two-bar window of `volume` with `large` large
    buys; the last bar has a bid-heavy book and closes above the rolling VWAP."""
    snaps = [bar(i) for i in range(4)]
    snaps.append(bar(4, 100.5, volume=volume, large_buys=large[0]))
    values: dict[str, object] = {
        "volume": volume,
        "large_buys": large[1],
        "imbalance": 0.45,
        "rolling_vwap": 100.2,
        "atr": 0.4,
        **last,
    }
    snaps.append(bar(5, 101.0, **values))
    return snaps


def test_long_with_seed_score_and_atr_stop():
    signals = run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), setup())
    assert len(signals) == 1
    signal = signals[0]
    assert signal.side is Side.LONG and signal.strategy == "scored_imbalance"
    assert signal.entry == 101.0
    assert signal.stop == 100.4  # 1.5 ATR
    assert signal.targets == (101.6, 101.9)  # 1R and 1.5R
    assert signal.score == 35 + 30 + 32  # imbalance > 0.4, intensity 2.0, 4 large buys × 8
    assert signal.quality is Quality.HIGH
    assert signal.reasons == {
        "imbalance": 0.45,
        "large_trades": 4,
        "volume_intensity": 2.0,
        "rolling_vwap": 100.2,
        "atr": 0.4,
        "rsi": None,
        "rsi_extreme": False,
        "divergence": False,
        "level": False,
        "optional_met": 0,
    }


def test_optional_conditions_are_reported_and_can_be_required():
    # RSI oversold, a bullish divergence in the window and a bid wall under the close
    found = setup(rsi=25.0, divergence=1, bid_wall_price=100.9)
    (signal,) = run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), found)
    assert signal.reasons["optional_met"] == 3
    assert signal.reasons["rsi_extreme"] and signal.reasons["divergence"]
    assert signal.reasons["level"]
    strict = {**PARAMS, "min_optional": 1}
    assert run(ScoredImbalanceStrategy("BTCUSDT", strict), setup()) == []
    assert len(run(ScoredImbalanceStrategy("BTCUSDT", strict), setup(rsi=25.0))) == 1
    assert run(ScoredImbalanceStrategy("BTCUSDT", strict), setup(rsi=75.0)) == []  # not a LONG's


@pytest.mark.parametrize(
    ("imbalance", "intensity", "large", "score"),
    [
        (0.41, 2.0, 5, 35 + 30 + 35),  # large trades capped at 35
        (0.40, 1.99, 4, 25 + 20 + 32),
        (0.30, 1.5, 3, 15 + 20 + 24),
        (0.29, 1.49, 0, 15 + 10 + 0),
    ],
)
def test_seed_score_table(imbalance, intensity, large, score):
    assert seed_score(imbalance, intensity, large) == score


@pytest.mark.parametrize(
    ("imbalance", "volume", "large", "score", "quality"),
    [
        (0.45, 20.0, (2, 2), 97, Quality.HIGH),
        (0.35, 20.0, (2, 2), 87, Quality.HIGH),
        (0.35, 16.0, (2, 2), 77, Quality.MEDIUM),  # intensity 1.6
        (0.35, 16.0, (1, 2), 69, Quality.MEDIUM),
        (0.30, 16.0, (1, 2), 59, Quality.LOW),
    ],
)
def test_quality_follows_the_score(imbalance, volume, large, score, quality):
    snaps = setup(volume=volume, large=large, imbalance=imbalance)
    signals = run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), snaps)
    assert [(s.score, s.quality) for s in signals] == [(score, quality)]


def test_below_the_seed_minimum_score_no_signal():
    params = {**PARAMS, "min_score": 60}
    assert run(ScoredImbalanceStrategy("BTCUSDT", params), setup(16.0, (1, 2), imbalance=0.3)) == []


@pytest.mark.parametrize(
    ("setup_args", "last"),
    [
        pytest.param({}, {"imbalance": 0.28}, id="imbalance not above 0.28"),
        pytest.param({"large": (1, 1)}, {}, id="two large buys"),
        pytest.param({}, {"large_buys": 0, "large_sells": 5}, id="large trades on the wrong side"),
        pytest.param({"volume": 15.0}, {}, id="volume intensity 1.5"),
        pytest.param({}, {"rolling_vwap": 101.0}, id="close not above the VWAP"),
        pytest.param({}, {"rolling_vwap": None}, id="VWAP undefined"),
        pytest.param({}, {"atr": None}, id="ATR undefined"),
        pytest.param({}, {"imbalance": None}, id="no book"),
    ],
)
def test_each_required_condition_matters(setup_args, last):
    assert len(run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), setup())) == 1
    assert run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), setup(**setup_args, **last)) == []


def test_nothing_until_the_volume_baseline_is_full():
    assert run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), setup()[1:]) == []


def test_mirrored_short():
    long_signal = run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), setup())[0]
    signals = run(ScoredImbalanceStrategy("BTCUSDT", PARAMS), [mirror(s) for s in setup()])
    assert [s.side for s in signals] == [Side.SHORT]
    assert signals[0].stop == pytest.approx(200 - long_signal.stop)
    assert signals[0].targets == pytest.approx(tuple(200 - t for t in long_signal.targets))
    assert signals[0].score == long_signal.score


def test_spacing_gives_one_signal_per_episode():
    strategy = ScoredImbalanceStrategy("BTCUSDT", PARAMS)
    snaps = setup()
    last = snaps[-1]
    for i in range(6, 14):  # the same conditions hold bar after bar, volume still rising
        volume = 20.0 * 1.5 ** (i - 5)
        snaps.append(bar(i, 101.0, volume=volume, large_buys=2, imbalance=0.45, rolling_vwap=100.2))
    signals = run(strategy, snaps)
    assert [s.time_ms for s in signals] == [last.end_ms, last.end_ms + 5 * last.bar_ms]
