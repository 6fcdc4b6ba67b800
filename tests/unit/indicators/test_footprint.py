import math

import pytest

from indicators.bars import Footprint, TimeBars
from indicators.footprint import (
    BUY,
    SELL,
    FootprintImbalance,
    FootprintImbalanceConfig,
    diagonal_imbalances,
)
from indicators.types import Trade

# Reference §8.3, tick = row = 0.1: tick index -> (ask = buy volume, bid = sell volume)
REF = Footprint(
    0.1,
    1,
    {
        1005: (15.0, 0.0),
        1004: (12.0, 0.0),
        1003: (30.0, 2.0),
        1002: (25.0, 8.0),
        1001: (4.0, 5.0),
        1000: (3.0, 40.0),
        999: (0.0, 9.0),
    },
)


def cfg(**kw) -> FootprintImbalanceConfig:
    return FootprintImbalanceConfig(**{"min_volume": 10.0, **kw})


def test_reference_buy_imbalances_in_ignore_mode():
    buys, _ = diagonal_imbalances(REF, cfg(zero_mode="ignore"))
    assert [b.row for b in buys] == [1002, 1003, 1004]
    assert [b.ratio for b in buys] == pytest.approx([5.0, 3.75, 6.0], abs=1e-9)
    assert buys[0].price == pytest.approx(100.2, abs=1e-9)
    assert all(b.side == BUY for b in buys)


def test_reference_zero_opposing_volume_counts_only_in_infinite_mode():
    buys, _ = diagonal_imbalances(REF, cfg(zero_mode="infinite"))
    assert [b.row for b in buys] == [1002, 1003, 1004, 1005]
    assert buys[-1].ratio == math.inf
    assert buys[-1].volume == 15.0


def test_reference_sell_imbalance():
    _, sells = diagonal_imbalances(REF, cfg())
    assert [(s.row, s.side) for s in sells] == [(1000, SELL)]
    assert sells[0].ratio == pytest.approx(10.0, abs=1e-9)


def test_reference_stacked_zones_per_zero_mode():
    ignore = FootprintImbalance(cfg(zero_mode="ignore")).update(REF)
    (zone,) = ignore.buy_zones
    assert (zone.low_price, zone.high_price, zone.rows) == pytest.approx((100.2, 100.4, 3))
    infinite = FootprintImbalance(cfg(zero_mode="infinite")).update(REF)
    (zone,) = infinite.buy_zones
    assert (zone.low_price, zone.high_price, zone.rows) == pytest.approx((100.2, 100.5, 4))
    assert infinite.sell_zones == ()


def test_reference_operator_edge_at_exactly_three_times():
    _, sells = diagonal_imbalances(REF, cfg(min_volume=0.0, operator=">="))
    assert 999 in [s.row for s in sells]
    assert [s.ratio for s in sells if s.row == 999] == pytest.approx([3.0], abs=1e-9)
    _, sells = diagonal_imbalances(REF, cfg(min_volume=0.0, operator=">"))
    assert 999 not in [s.row for s in sells]
    for op in (">=", ">"):
        _, sells = diagonal_imbalances(REF, cfg(operator=op))
        assert 999 not in [s.row for s in sells]


def test_reference_top_and_bottom_rows_miss_one_test():
    buys, sells = diagonal_imbalances(REF, cfg(min_volume=0.0))
    assert 999 not in [b.row for b in buys]  # no row below the lowest
    assert 1005 not in [s.row for s in sells]  # no row above the highest


def test_empty_footprint_has_no_imbalance_and_untraded_rows_never_fire():
    assert diagonal_imbalances(Footprint(0.1, 1, {}), cfg()) == ((), ())
    gappy = Footprint(0.1, 1, {10: (5.0, 0.0), 13: (0.0, 5.0)})
    buys, sells = diagonal_imbalances(gappy, cfg(min_volume=0.0))
    assert buys == ()
    assert sells == ()


def test_works_on_bars_built_from_trades_with_rows_of_k_ticks():
    bars = TimeBars(60_000, tick_size=0.1, row_ticks=2)
    for p, q, m in [(100.0, 1.0, True), (100.1, 1.0, True), (100.2, 9.0, False)]:
        bars.update(Trade(0, p, q, m))
    (bar,) = bars.advance(60_000)
    signal = FootprintImbalance(cfg(min_volume=1.0)).update(bar.footprint)
    # rows of 0.2: [100.0, 100.2) holds 2 sold, [100.2, 100.4) holds 9 bought: 4.5×.
    (imb,) = signal.buy
    assert (imb.price, imb.ratio) == pytest.approx((100.2, 4.5), abs=1e-9)


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError):
        cfg(operator="=>")
    with pytest.raises(ValueError):
        cfg(zero_mode="skip")
    with pytest.raises(ValueError):
        cfg(ratio=0.0)


def test_object_is_none_before_first_bar_and_after_reset():
    fi = FootprintImbalance(cfg())
    assert fi.value is None
    fi.update(REF)
    assert fi.ready
    fi.reset()
    assert fi.value is None
