import math

import pytest

from indicators.panic import (
    PanicConfig,
    PanicIndex,
    RealizedVolatility,
    parkinson_volatility,
    robust_z,
)

# Reference §6
VOLUME_BASE = [100.0, 120.0, 80.0, 110.0, 90.0]
RV_BASE = [0.001, 0.0012, 0.0008, 0.0011, 0.0009]
Z_REF = 300.0 / 14.826


def test_reference_robust_z_of_volume_and_rv():
    assert robust_z(400.0, VOLUME_BASE) == pytest.approx(Z_REF, abs=1e-9)
    assert robust_z(400.0, VOLUME_BASE) == pytest.approx(20.2347, abs=1e-4)
    assert robust_z(0.004, RV_BASE) == pytest.approx(Z_REF, abs=1e-9)


def test_reference_parkinson():
    sigma = parkinson_volatility(101.0, 99.0)
    assert sigma**2 == pytest.approx(0.000144279, abs=1e-9)
    assert sigma == pytest.approx(0.0120116, abs=1e-7)
    assert sigma == pytest.approx(math.log(101 / 99) / math.sqrt(4 * math.log(2)), abs=1e-12)


def test_parkinson_edges():
    assert parkinson_volatility(100.0, 100.0) == 0.0
    assert parkinson_volatility(100.0, 0.0) is None
    assert parkinson_volatility(99.0, 100.0) is None


def test_flat_baseline_makes_z_undefined_or_floored():
    assert robust_z(5.0, [0.0] * 5) is None
    assert robust_z(5.0, []) is None
    # MAD = 0 with a positive median: floor at ε·median = 0.01·100 = 1.
    assert robust_z(110.0, [100.0] * 5, 0.01) == pytest.approx(10.0 / 1.4826, abs=1e-9)


def feed_baseline(panic: PanicIndex) -> None:
    for rv, vol in zip(RV_BASE, VOLUME_BASE, strict=True):
        assert panic.update(rv, vol, 0.0) is None  # warming up: None, never 0


def test_reference_panic_raw_without_clip():
    panic = PanicIndex(PanicConfig(baseline_bars=5, z_max=None))
    feed_baseline(panic)
    assert panic.update(0.004, 400.0, -0.01) == pytest.approx(Z_REF, abs=1e-9)
    assert panic.direction == -1
    assert panic.z[2] is None


def test_reference_panic_raw_with_clip_at_ten():
    panic = PanicIndex(PanicConfig(baseline_bars=5, z_max=10.0))
    feed_baseline(panic)
    assert panic.update(0.004, 400.0, 0.02) == pytest.approx(10.0, abs=1e-9)
    assert panic.direction == 1


def test_negative_z_counts_as_no_panic():
    panic = PanicIndex(PanicConfig(baseline_bars=5))
    feed_baseline(panic)
    assert panic.update(0.0005, 50.0, 0.0) == 0.0
    assert panic.direction == 0


def test_liquidation_component_joins_once_its_baseline_is_full():
    panic = PanicIndex(PanicConfig(baseline_bars=5, z_max=None))
    for rv, vol in zip(RV_BASE, VOLUME_BASE, strict=True):
        panic.update(rv, vol, 0.0, liquidation_notional=10.0 * vol)
    # liquidation baseline = 10 × volume baseline: z(4000) = z(400) of volume.
    assert panic.update(0.004, 400.0, -1.0, 4000.0) == pytest.approx(Z_REF, abs=1e-9)
    assert panic.z[2] == pytest.approx(Z_REF, abs=1e-9)


def test_all_zero_liquidation_baseline_is_left_out_not_faked():
    panic = PanicIndex(PanicConfig(baseline_bars=5, z_max=None))
    for rv, vol in zip(RV_BASE, VOLUME_BASE, strict=True):
        panic.update(rv, vol, 0.0, liquidation_notional=0.0)
    assert panic.update(0.004, 400.0, -1.0, 50.0) == pytest.approx(Z_REF, abs=1e-9)


def test_score_is_the_empirical_cdf_of_previous_raw_values():
    panic = PanicIndex(PanicConfig(baseline_bars=5, z_max=None, cdf_window=3, cdf_min_samples=2))
    feed_baseline(panic)
    raws, scores = [], []
    for vol in [100.0, 110.0, 400.0, 120.0, 105.0]:
        raws.append(panic.update(0.001, vol, 0.0))
        scores.append(panic.score)
    assert scores[:2] == [None, None]  # fewer than cdf_min_samples previous values
    assert scores[2] == 1.0  # 400 beats both previous raws
    assert scores[3] == pytest.approx(2 / 3, abs=1e-9)  # 120 ≥ the raws of 100 and 110
    # 105 is below the rolled baseline median (110): raw 0, below every raw in the window.
    assert raws[4] == 0.0
    assert all(r > 0 for r in raws[1:4])
    assert scores[4] == 0.0
    panic.reset()
    assert panic.value is None
    assert panic.score is None


def test_realized_volatility_over_sub_bar_returns():
    rv = RealizedVolatility()
    assert rv.value is None
    for price in [100.0, 101.0, 100.0]:
        rv.update(price)
    expected = math.sqrt(math.log(1.01) ** 2 + math.log(100 / 101) ** 2)
    assert rv.roll() == pytest.approx(expected, abs=1e-12)
    assert not rv.ready
    rv.update(102.0)  # first return of the next bar spans the boundary
    assert rv.value == pytest.approx(abs(math.log(1.02)), abs=1e-12)
