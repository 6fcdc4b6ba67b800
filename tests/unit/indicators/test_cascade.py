import math

import pytest

from indicators.cascade import (
    CascadeConfig,
    CascadeDetector,
    HawkesCascade,
    HawkesConfig,
    branching_ratio_estimate,
)


def test_reference_hawkes_intensity_peak_decay_and_exhaustion():
    hawkes = HawkesCascade(HawkesConfig(mu=0.1, alpha=0.8, beta=1.0))
    assert hawkes.value is None
    assert hawkes.exhaustion is None
    for t in (0, 500, 1000):
        peak = hawkes.update(t)
    assert peak == pytest.approx(1.679528, abs=1e-6)
    assert peak == pytest.approx(0.1 + 0.8 * (1 + math.exp(-0.5) + math.exp(-1.0)), abs=1e-12)
    assert hawkes.branching_ratio == pytest.approx(0.8, abs=1e-12)
    assert hawkes.advance(2000) == pytest.approx(0.681076, abs=1e-6)
    assert hawkes.excess / (peak - 0.1) == pytest.approx(math.exp(-1.0), abs=1e-12)
    assert hawkes.exhaustion == pytest.approx(1.0 - math.exp(-1.0), abs=1e-12)
    assert hawkes.exhaustion == pytest.approx(0.632121, abs=1e-6)
    assert not hawkes.exhausted
    assert hawkes.start_ms == 500  # λ reached 10·μ at the second event


def test_hawkes_exhaustion_without_events_is_one_minus_exp_decay():
    hawkes = HawkesCascade(HawkesConfig(mu=0.1, alpha=2.0, beta=0.5))
    hawkes.update(0)
    hawkes.advance(3000)
    assert hawkes.exhaustion == pytest.approx(1.0 - math.exp(-1.5), abs=1e-12)
    assert not hawkes.exhausted  # 1 − e^{−1.5} = 0.777 < 0.8
    hawkes.advance(4000)
    assert hawkes.exhaustion == pytest.approx(1.0 - math.exp(-2.0), abs=1e-12)
    assert hawkes.exhausted


def test_hawkes_weights_events_by_notional():
    hawkes = HawkesCascade(HawkesConfig(mu=0.1, alpha=0.8, beta=1.0, notional_unit=1000.0))
    assert hawkes.update(0, notional=2500.0) == pytest.approx(0.1 + 0.8 * 2.5, abs=1e-12)


def test_hawkes_new_episode_only_after_exhaustion():
    hawkes = HawkesCascade(HawkesConfig(mu=0.1, alpha=2.0, beta=1.0))
    hawkes.update(0)
    assert hawkes.start_ms == 0
    hawkes.update(100)  # still hot: same episode, higher peak
    assert hawkes.start_ms == 0
    hawkes.update(10_000)  # long after exhaustion: a new episode
    assert hawkes.start_ms == 10_000
    assert hawkes.exhaustion == pytest.approx(0.0, abs=1e-12)
    hawkes.reset()
    assert hawkes.value is None


def test_reference_branching_ratio_estimate():
    assert branching_ratio_estimate(10.0, 40.0) == pytest.approx(0.5, abs=1e-12)
    assert branching_ratio_estimate(0.0, 40.0) is None


RAW = CascadeConfig(min_notional=1.0, ewma_half_life_s=None, price_sigma_mult=None)
REF_NOTIONAL = [0, 0, 5, 20, 60, 45, 30, 10, 4, 1]


def test_reference_model_free_cascade_start_peak_and_exhaustion():
    det = CascadeDetector(RAW)
    out = [det.update(t * 1000, x, 0.0) for t, x in enumerate(REF_NOTIONAL)]
    assert out[:3] == [None, None, None]  # no liquidations yet: no cascade, no fake 0
    assert det.start_ms == 3000
    assert det.side == -1  # longs liquidated
    assert out[3] == 0.0
    assert out[4] == 0.0  # the peak
    assert out[8] == pytest.approx(1.0 - 4.0 / 60.0, abs=1e-9)
    assert out[8] == pytest.approx(0.933333, abs=1e-6)
    assert det.exhausted


def test_cascade_that_flips_side_starts_a_new_cascade():
    det = CascadeDetector(RAW)
    for t, x in enumerate(REF_NOTIONAL[:5]):
        det.update(t * 1000, x, 0.0)
    assert det.side == -1
    det.update(5000, 0.0, 50.0)  # shorts now: 50 ≥ 10·max(median(0,0,0,0,0), 1)
    assert (det.side, det.start_ms, det.value) == (1, 5000, 0.0)


def test_no_restart_on_same_side_while_not_exhausted():
    det = CascadeDetector(RAW)
    for t, x in enumerate([0, 20, 30, 100]):
        det.update(t * 1000, x, 0.0)
    assert det.start_ms == 1000


def test_price_condition_gates_the_start():
    cfg = CascadeConfig(
        min_notional=1.0,
        ewma_half_life_s=None,
        price_sigma_mult=3.0,
        return_window_s=3,
        sigma_window_s=10,
        no_new_extreme_s=2,
    )
    det = CascadeDetector(cfg)
    prices = [100.0, 100.01, 100.0, 100.01, 100.0, 100.01]
    for t, p in enumerate(prices):
        det.update(t * 1000, 50.0 if t == 5 else 0.0, 0.0, p)  # big L, no price move
    assert det.value is None
    det.update(6000, 50.0, 0.0, 98.0)  # −2% in 3 s against a 0.01% noise
    assert (det.side, det.start_ms) == (-1, 6000)
    det.update(7000, 5.0, 0.0, 97.0)  # new low: E = 0.9 but the price is still falling
    assert det.value == pytest.approx(0.9, abs=1e-12)
    assert not det.exhausted
    det.update(8000, 0.0, 0.0, 97.5)
    assert not det.exhausted  # 1 s since the last extreme
    det.update(9000, 0.0, 0.0, 97.6)
    assert det.exhausted


def test_ewma_smoothing_of_liquidation_rate():
    det = CascadeDetector(
        CascadeConfig(min_notional=1.0, ewma_half_life_s=1.0, price_sigma_mult=None)
    )
    det.update(0, 40.0, 0.0)  # smoothed L = 20 ≥ 10
    assert det.side == -1
    det.update(1000, 0.0, 0.0)  # L halves each second: E = 1 − 10/20
    assert det.value == pytest.approx(0.5, abs=1e-12)
    det.reset()
    assert det.value is None
    assert det.side == 0


QUIET_S = 30  # leading quiet seconds keep the baseline median at 0 (floor 1: threshold 10)
# Hand-computed: start at 20 (t=1), peak 30, E(15) = 0.5, E(5) = 0.833333 (exhausted),
# E(2) = 0.933333; a later burst 8 (sub-threshold) → E = 1 − 8/30 = 0.733333 still
# exhausted; 12 ≥ 10 and rising → a new cascade (E = 0); peak 24; E(3) = 1 − 3/24 = 0.875.
BURSTS = [0, 20, 30, 15, 5, 2, 8, 12, 24, 3]


def feed(det: CascadeDetector, notional: list[float]) -> list[tuple[float | None, bool, int]]:
    """(E, exhausted, start second) after each second of long liquidations."""
    for t in range(QUIET_S):
        det.update(t * 1000, 0.0, 0.0)
    out = []
    for t, x in enumerate(notional):
        value = det.update((QUIET_S + t) * 1000, x, 0.0)
        start = None if det.start_ms is None else det.start_ms // 1000 - QUIET_S
        out.append((value, det.exhausted, start))
    return out


def test_reference_later_burst_starts_a_new_cascade_only_at_the_threshold():
    out = feed(CascadeDetector(RAW), BURSTS)
    expected = [
        (None, False, None),
        (0.0, False, 1),
        (0.0, False, 1),
        (0.5, False, 1),
        (1 - 5 / 30, True, 1),
        (1 - 2 / 30, True, 1),
        (1 - 8 / 30, True, 1),  # the new burst's rising edge does not revive the old cascade
        (0.0, False, 7),  # at the threshold: a new cascade, measured against its own peak
        (0.0, False, 7),
        (0.875, True, 7),
    ]
    assert [(e, x, s) for e, x, s in out] == [
        (pytest.approx(e, abs=1e-9) if e is not None else None, x, s) for e, x, s in expected
    ]


def test_burst_that_stays_under_the_threshold_leaves_the_cascade_exhausted():
    det = CascadeDetector(RAW)
    out = feed(det, [*BURSTS[:6], 8, 9, 9, 4])
    assert [x for _, x, _ in out[4:]] == [True] * 6
    assert {s for _, _, s in out[1:]} == {1}
    assert det.value == pytest.approx(1 - 4 / 30, abs=1e-9)


def test_decaying_tail_above_the_threshold_does_not_restart():
    det = CascadeDetector(RAW)
    out = feed(det, [100, 19, 15, 16])
    # E(19) = 0.81 exhausted; 15 is still ≥ 10 but falling: the same, exhausted cascade;
    # 16 rises again: a new burst, a new cascade.
    assert [(x, s) for _, x, s in out] == [(False, 0), (True, 0), (True, 0), (False, 3)]


def test_hawkes_exhausted_episode_is_not_revived_below_the_start_level():
    hawkes = HawkesCascade(HawkesConfig(mu=0.1, alpha=2.0, beta=1.0, notional_unit=1000.0))
    hawkes.update(0, notional=1000.0)  # excess 2: λ = 2.1 ≥ 10·μ, an episode starts
    hawkes.advance(2000)  # E = 1 − e^{−2} = 0.864665: exhausted
    assert hawkes.exhausted
    # a quarter-weight event: excess 2e^{−2} + 0.5 = 0.770671, λ = 0.870671 < 1.0
    hawkes.update(2000, notional=250.0)
    assert hawkes.exhaustion == pytest.approx(1 - (2 * math.exp(-2) + 0.5) / 2, abs=1e-12)
    assert hawkes.exhaustion == pytest.approx(0.614665, abs=1e-6)
    assert hawkes.exhausted and hawkes.start_ms == 0  # lower E, the same finished episode
    # another: excess 0.770671·e^{−0.1} + 0.5 = 1.197335, λ ≥ 1.0: a new episode at its peak
    hawkes.update(2100, notional=250.0)
    assert hawkes.start_ms == 2100 and not hawkes.exhausted
    assert hawkes.excess == pytest.approx((2 * math.exp(-2) + 0.5) * math.exp(-0.1) + 0.5)
    assert hawkes.exhaustion == pytest.approx(0.0, abs=1e-12)
