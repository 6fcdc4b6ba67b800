import pytest

from indicators.absorption import (
    Absorption,
    AbsorptionConfig,
    absorption_impact,
    absorption_simple,
)
from tests.unit.indicators.samples import make_bar


def test_reference_simple_form_with_one_tick_progress():
    assert absorption_simple(120.0, 30.0, 1) == pytest.approx(2.0, abs=1e-9)


def test_reference_simple_form_with_eight_tick_breakout():
    assert absorption_simple(120.0, 30.0, 8) == pytest.approx(4.0 / 9.0, abs=1e-9)


def test_reference_impact_form_without_realized_move():
    assert absorption_impact(0, 0.05, 120.0 - 20.0) == pytest.approx(1.0, abs=1e-9)
    assert absorption_impact(2, 0.05, -100.0) == pytest.approx(1.0 - 2.0 / 5.0, abs=1e-9)
    assert absorption_impact(9, 0.05, 100.0) == 0.0  # clipped


def test_edge_cases_of_the_forms():
    assert absorption_simple(0.0, 30.0, 0) == 0.0
    assert absorption_simple(120.0, 0.0, 0) is None
    assert absorption_impact(0, None, 100.0) is None
    assert absorption_impact(0, -0.1, 100.0) is None
    assert absorption_impact(0, 0.05, 0.0) is None


def warmed(ref_windows: int = 3, lambda_windows: int = 3) -> Absorption:
    ab = Absorption(AbsorptionConfig(ref_windows=ref_windows, lambda_windows=lambda_windows))
    # Windows of Δ = +20, +40, +60 moving 1, 2, 3 ticks up: λ̂ = 0.05 ticks per unit.
    for i, (buy, ticks) in enumerate([(20.0, 1), (40.0, 2), (60.0, 3)]):
        ab.update(make_bar(100.0, 100.0 + ticks * 0.1, buy, 0.0, start_ms=i * 10_000))
    return ab


def test_warm_up_gives_none_not_zero():
    ab = Absorption(AbsorptionConfig(ref_windows=3, lambda_windows=3))
    assert ab.update(make_bar(100.0, 100.0, 0.0, 120.0)) is None
    assert ab.impact is None
    assert not ab.ready


def test_sell_absorption_at_a_bid_reads_negative_signed_strength():
    ab = warmed()
    assert ab.ready
    assert ab.lambda_ is None  # estimated from previous windows at the next update
    # 120 sold vs 20 bought, price 1 tick lower: V_ref = median(20, 40, 60) = 40.
    value = ab.update(make_bar(100.0, 99.9, 20.0, 120.0, start_ms=30_000))
    assert ab.lambda_ == pytest.approx(0.05, abs=1e-9)
    assert value == pytest.approx((120.0 / 40.0) / 2.0, abs=1e-9)
    assert ab.side == -1
    assert ab.signed == pytest.approx(-1.5, abs=1e-9)
    assert ab.impact == pytest.approx(1.0 - 1.0 / 5.0, abs=1e-9)
    assert ab.price == pytest.approx(99.9, abs=1e-9)
    assert ab.modal_price == pytest.approx(99.9, abs=1e-9)


def test_progress_against_the_aggression_counts_as_zero():
    ab = warmed()
    # Buyers aggressive but price fell 2 ticks: prog = max(0, −2) = 0.
    assert ab.update(make_bar(100.0, 99.8, 80.0, 0.0)) == pytest.approx(2.0, abs=1e-9)
    assert ab.impact == pytest.approx(1.0, abs=1e-9)


def test_empty_window_is_zero_and_balanced_window_is_none():
    ab = warmed()
    assert ab.update(make_bar(100.0, 100.0, 0.0, 0.0)) == 0.0
    assert ab.price is None
    assert ab.modal_price is None
    assert ab.update(make_bar(100.0, 100.0, 30.0, 30.0)) is None
    assert ab.side == 0
    assert ab.signed is None


def test_flat_delta_history_leaves_lambda_undefined():
    ab = Absorption(AbsorptionConfig(ref_windows=2, lambda_windows=2))
    for _ in range(2):
        ab.update(make_bar(100.0, 100.1, 10.0, 0.0))
    ab.update(make_bar(100.0, 100.0, 50.0, 0.0))
    assert ab.lambda_ is None
    assert ab.impact is None
    ab.reset()
    assert ab.value is None
