import pytest

from indicators.delta import (
    DAY_MS,
    BarDivergence,
    Cvd,
    RollingCvd,
    SwingDivergence,
    SwingDivergenceConfig,
    normalized_delta,
    trade_sign,
)


def test_binance_m_true_is_a_sell_aggressor():
    assert trade_sign(True) == -1
    assert trade_sign(False) == 1


def test_reference_normalized_delta():
    assert normalized_delta(5.0, 6.0) == pytest.approx(-0.090909090909, abs=1e-9)


def test_normalized_delta_without_volume_is_none_not_zero():
    assert normalized_delta(0.0, 0.0) is None


def test_reference_cvd_of_bar_deltas():
    cvd = Cvd(anchor="none")
    assert cvd.value is None
    assert not cvd.ready
    seen = []
    for i, delta in enumerate([3.0, -1.0, 4.0, -2.0]):
        cvd.update(i * 60_000, delta)
        seen.append(cvd.value)
    assert seen == pytest.approx([3.0, 2.0, 6.0, 4.0], abs=1e-9)


def test_cvd_restarts_at_utc_midnight_and_carries_through_empty_bars():
    cvd = Cvd()
    cvd.update(DAY_MS - 1, 5.0)
    cvd.update(DAY_MS - 1, 0.0)  # an empty bar carries CVD forward unchanged
    assert cvd.value == 5.0
    cvd.update(DAY_MS, 2.0)
    assert cvd.value == 2.0


def test_cvd_without_anchor_never_resets():
    cvd = Cvd(anchor="none")
    cvd.update(DAY_MS - 1, 5.0)
    cvd.update(DAY_MS, 2.0)
    assert cvd.value == 7.0
    with pytest.raises(ValueError):
        Cvd(anchor="weekly")


def test_rolling_cvd_is_none_until_the_window_has_elapsed():
    cvd = RollingCvd(window_ms=1000)
    cvd.update(0, 1.0)
    cvd.update(500, 2.0)
    assert cvd.value is None
    cvd.update(1000, 4.0)  # the event at 0 is now exactly W old: (t − W, t] excludes it
    assert cvd.value == pytest.approx(6.0, abs=1e-9)
    cvd.update(1600, -1.0)
    assert cvd.value == pytest.approx(3.0, abs=1e-9)
    cvd.reset()
    assert cvd.value is None


def test_reference_bar_divergence_marks():
    div = BarDivergence()
    assert div.value is None
    assert div.update(100.0, 101.0, -1.0) == -1
    assert div.update(101.0, 100.0, 2.0) == 1
    assert div.update(100.0, 100.0, -5.0) == 0
    assert div.update(100.0, 101.0, 3.0) == 0


def pivot_stream(h1: float, cvd1: float, h2: float, cvd2: float):
    """13 bars with pivot highs at bars 3 and 9 (L=R=3); lows flat so no pivot lows."""
    highs = [10.0] * 13
    cvds = [45.0] * 13
    highs[3], cvds[3] = h1, cvd1
    highs[9], cvds[9] = h2, cvd2
    return [(h, 9.0, 1.0, c) for h, c in zip(highs, cvds, strict=True)]


def run(div: SwingDivergence, stream):
    return [div.update(*bar) for bar in stream]


def test_reference_swing_regular_bearish_is_reported_at_confirmation():
    div = SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0))
    out = run(div, pivot_stream(12.0, 50.0, 13.0, 40.0))
    assert out[:12] == [None] * 12  # no look-ahead: pivot 9 is known only at bar 12
    event = out[12]
    assert event is not None
    assert (event.kind, event.sign) == ("regular_bearish", -1)
    assert (event.prev_index, event.index, event.confirmed_index) == (3, 9, 12)
    assert (event.prev_price, event.price, event.prev_cvd, event.cvd) == (12.0, 13.0, 50.0, 40.0)


def test_reference_swing_without_divergence_when_cvd_confirms():
    div = SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0))
    assert all(e is None for e in run(div, pivot_stream(12.0, 50.0, 13.0, 55.0)))


def test_swing_hidden_bearish_and_bullish_variants():
    div = SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0))
    assert run(div, pivot_stream(13.0, 40.0, 12.0, 50.0))[12].kind == "hidden_bearish"
    lows = [11.0] * 13
    cvds = [0.0] * 13
    lows[3], cvds[3] = 9.0, -50.0
    lows[9], cvds[9] = 8.0, -40.0  # lower low in price, higher low in CVD
    div.reset()
    out = run(div, [(12.0, lo, 1.0, c) for lo, c in zip(lows, cvds, strict=True)])
    assert (out[12].kind, out[12].sign) == ("regular_bullish", 1)
    lows[9], cvds[9] = 10.0, -60.0
    div.reset()
    out = run(div, [(12.0, lo, 1.0, c) for lo, c in zip(lows, cvds, strict=True)])
    assert out[12].kind == "hidden_bullish"


def test_swing_requires_cvd_gap_above_sigma_of_bar_deltas():
    # Bar deltas alternate ±10 so σ ≈ 10; a CVD gap of 4 is below 0.5σ ≈ 5.
    bars = pivot_stream(12.0, 50.0, 13.0, 46.0)
    stream = [(h, lo, 10.0 if i % 2 else -10.0, c) for i, (h, lo, _, c) in enumerate(bars)]
    assert all(e is None for e in run(SwingDivergence(), stream))
    stream[9] = (13.0, 9.0, 10.0, 44.0)  # gap 6 ≥ 5
    assert run(SwingDivergence(), stream)[12].kind == "regular_bearish"


def test_swing_ignores_pivots_further_apart_than_max_gap():
    div = SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0, max_gap=5))
    assert all(e is None for e in run(div, pivot_stream(12.0, 50.0, 13.0, 40.0)))
    assert not SwingDivergence().ready


def lows_stream(l1: float, cvd1: float, l2: float, cvd2: float):
    """13 bars with pivot lows at bars 3 and 9 (L=R=3); highs flat so no pivot highs."""
    lows, cvds = [11.0] * 13, [0.0] * 13
    lows[3], cvds[3] = l1, cvd1
    lows[9], cvds[9] = l2, cvd2
    return [(12.0, lo, 1.0, c) for lo, c in zip(lows, cvds, strict=True)]


@pytest.mark.parametrize(
    ("pivots", "kind", "code"),
    [
        # seed 004 §4.1: price makes a new low, CVD does not (it stays above its last low)
        pytest.param((9.0, -50.0, 8.0, -40.0), "regular_bullish", 1, id="regular bullish"),
        pytest.param((9.0, -50.0, 10.0, -60.0), "hidden_bullish", 2, id="hidden bullish"),
    ],
)
def test_reference_divergence_codes_of_pivot_lows(pivots, kind, code):
    out = run(SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0)), lows_stream(*pivots))
    event = out[12]
    assert event is not None and (event.kind, event.sign, event.code) == (kind, 1, code)


def test_reference_divergence_codes_of_pivot_highs():
    div = SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0))
    regular = run(div, pivot_stream(12.0, 50.0, 13.0, 40.0))[12]
    div.reset()
    hidden = run(div, pivot_stream(13.0, 40.0, 12.0, 50.0))[12]
    assert (regular.kind, regular.code) == ("regular_bearish", -1)
    assert (hidden.kind, hidden.code) == ("hidden_bearish", -2)


def test_lower_price_low_with_a_lower_cvd_low_is_no_divergence():
    div = SwingDivergence(SwingDivergenceConfig(sigma_mult=0.0))
    assert all(e is None for e in run(div, lows_stream(9.0, -50.0, 8.0, -60.0)))
