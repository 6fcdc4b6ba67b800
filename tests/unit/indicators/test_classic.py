import pytest

from indicators.classic import Atr, Ema, Macd, RollingVwap, Rsi, SessionVwap
from indicators.delta import DAY_MS


def feed(ind, xs):
    return [ind.update(x) for x in xs]


def test_ema_is_seeded_with_the_sma_and_none_before():
    # α = 0.5: seed (1+2+3)/3 = 2, then 2 + 0.5·(4 − 2) = 3, 3 + 0.5·(5 − 3) = 4.
    assert feed(Ema(3), [1.0, 2.0, 3.0, 4.0, 5.0]) == [None, None, 2.0, 3.0, 4.0]


def test_rsi_wilder_hand_computed():
    # changes +1 −1 +2 | +1: seed gain 1, loss 1/3 → RS 3 → 75;
    # then gain (2·1 + 1)/3 = 1, loss (2/3 + 0)/3 = 2/9 → RS 4.5 → 81.8181…
    out = feed(Rsi(3), [10.0, 11.0, 10.0, 12.0, 13.0])
    assert out[:3] == [None, None, None]
    assert out[3] == pytest.approx(75.0, abs=1e-9)
    assert out[4] == pytest.approx(100.0 - 100.0 / 5.5, abs=1e-9)


def test_rsi_edges_only_gains_and_no_movement():
    assert feed(Rsi(2), [1.0, 2.0, 3.0])[-1] == 100.0
    assert feed(Rsi(2), [5.0, 5.0, 5.0]) == [None, None, None]


def test_macd_hand_computed():
    macd = Macd(fast=2, slow=3, signal=2)
    out = feed(macd, [1.0, 2.0, 3.0, 4.0, 6.0])
    # EMA2: 1.5, 2.5, 3.5, 5.1667; EMA3: 2, 3, 4.5 → MACD 0.5, 0.5, 0.6667
    assert out[:2] == [None, None]
    assert out[2:] == pytest.approx([0.5, 0.5, 2.0 / 3.0], abs=1e-9)
    assert macd.signal == pytest.approx(0.5 + (2.0 / 3.0) * (2.0 / 3.0 - 0.5), abs=1e-9)
    assert macd.histogram == pytest.approx(macd.value - macd.signal, abs=1e-12)
    macd.reset()
    assert (macd.value, macd.signal, macd.histogram) == (None, None, None)
    with pytest.raises(ValueError):
        Macd(fast=5, slow=5)


def test_atr_hand_computed():
    atr = Atr(2)
    bars = [(10.0, 8.0, 9.0), (11.0, 9.0, 10.0), (12.0, 10.5, 11.5), (11.0, 9.0, 9.5)]
    out = [atr.update(*b) for b in bars]
    # TR: 2, 2, max(1.5, 2, 0.5) = 2, max(2, 0.5, 2.5) = 2.5 → ATR −, 2, 2, 2.25
    assert out == [None, 2.0, 2.0, 2.25]
    assert atr.ready
    atr.reset()
    assert atr.value is None


def test_session_vwap_resets_at_utc_midnight():
    vwap = SessionVwap()
    assert vwap.value is None
    vwap.update(DAY_MS - 2, 100.0, 1.0)
    vwap.update(DAY_MS - 1, 103.0, 2.0)
    assert vwap.value == pytest.approx(102.0, abs=1e-9)
    vwap.update(DAY_MS, 50.0, 1.0)
    assert vwap.value == pytest.approx(50.0, abs=1e-9)


def test_zero_volume_vwap_is_none():
    vwap = SessionVwap()
    vwap.update(0, 100.0, 0.0)
    assert vwap.value is None
    assert not vwap.ready


def test_rolling_vwap_drops_trades_older_than_the_window():
    vwap = RollingVwap(window_ms=1000)
    vwap.update(0, 100.0, 1.0)
    vwap.update(500, 110.0, 1.0)
    assert vwap.value == pytest.approx(105.0, abs=1e-9)
    vwap.update(1000, 120.0, 2.0)  # the trade at 0 is out: (0, 1000]
    assert vwap.value == pytest.approx((110.0 + 240.0) / 3.0, abs=1e-9)
    vwap.update(5000, 90.0, 0.0)
    assert vwap.value is None  # only a zero-quantity trade left in the window


def test_invalid_periods_are_rejected():
    for cls in (Ema, Rsi, Atr):
        with pytest.raises(ValueError):
            cls(0)
    with pytest.raises(ValueError):
        RollingVwap(0)
