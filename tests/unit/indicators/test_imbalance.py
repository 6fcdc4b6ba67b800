import pytest

from indicators.imbalance import (
    BandImbalance,
    DepthImbalance,
    MultiLevelOfi,
    Ofi,
    WeightedMid,
    band_imbalance,
    depth_imbalance,
    mid_price,
    queue_imbalance,
    weighted_mid,
)
from tests.unit.indicators.samples import (
    CROSSED_BOOK,
    EMPTY_BOOK,
    LOCKED_BOOK,
    OBI_BOOK,
    ONE_SIDED_BOOK,
    book,
    l1,
)

UNUSABLE = [EMPTY_BOOK, CROSSED_BOOK, LOCKED_BOOK, ONE_SIDED_BOOK]


def test_reference_queue_imbalance_and_signed_l1():
    assert queue_imbalance(OBI_BOOK) == pytest.approx(5 / 6, abs=1e-9)
    assert depth_imbalance(OBI_BOOK, 1) == pytest.approx(0.666667, abs=1e-6)
    assert depth_imbalance(OBI_BOOK, 1) == pytest.approx(2 / 3, abs=1e-9)


def test_reference_depth3_disagrees_with_l1():
    assert depth_imbalance(OBI_BOOK, 3) == pytest.approx(-0.2, abs=1e-9)


def test_reference_weighted_obi():
    assert depth_imbalance(OBI_BOOK, 3, (1.0, 0.5, 0.25)) == pytest.approx(0.12, abs=1e-9)


def test_reference_mid_and_weighted_mid():
    assert mid_price(OBI_BOOK) == pytest.approx(100.05, abs=1e-9)
    assert weighted_mid(OBI_BOOK) == pytest.approx(100.0833333333, abs=1e-9)


def test_band_imbalance_sums_only_levels_within_bps_of_mid():
    # mid 100.05: 10 bps keeps 100.0 vs 100.1, 20 bps adds 99.9 and 100.2.
    assert band_imbalance(OBI_BOOK, 10) == pytest.approx((5 - 1) / 6, abs=1e-9)
    assert band_imbalance(OBI_BOOK, 20) == pytest.approx((8 - 5) / 13, abs=1e-9)
    assert band_imbalance(OBI_BOOK, 500) == pytest.approx(-0.2, abs=1e-9)


@pytest.mark.parametrize("bad", UNUSABLE)
def test_empty_one_sided_crossed_and_locked_books_give_none(bad):
    assert mid_price(bad) is None
    assert queue_imbalance(bad) is None
    assert weighted_mid(bad) is None
    assert depth_imbalance(bad, 5) is None
    assert band_imbalance(bad, 50) is None


def test_zero_quantity_at_the_top_gives_none():
    zero = l1(100.0, 0.0, 100.1, 0.0)
    assert queue_imbalance(zero) is None
    assert depth_imbalance(zero, 1) is None


def test_depth_imbalance_uses_available_levels_and_records_them():
    obi = DepthImbalance(levels=5)
    assert obi.value is None
    assert not obi.ready
    assert obi.update(OBI_BOOK) == pytest.approx(-0.2, abs=1e-9)
    assert obi.levels_used == (3, 3)
    assert obi.update(EMPTY_BOOK) is None
    assert obi.levels_used == (0, 0)
    with pytest.raises(ValueError):
        DepthImbalance(levels=3, weights=(1.0, 0.5))


def test_object_wrappers_match_functions_and_reset():
    band, wmid = BandImbalance(10), WeightedMid()
    assert band.update(OBI_BOOK) == band_imbalance(OBI_BOOK, 10)
    assert wmid.update(OBI_BOOK) == weighted_mid(OBI_BOOK)
    assert wmid.mid == pytest.approx(100.05, abs=1e-9)
    assert wmid.update(CROSSED_BOOK) is None
    assert wmid.mid is None
    band.reset()
    wmid.reset()
    assert band.value is None
    assert wmid.value is None


# Reference §2.4: (P^B, q^B, P^A, q^A)
OFI_SNAPSHOTS = [
    (100.0, 5, 100.1, 4),
    (100.0, 7, 100.1, 4),
    (100.1, 3, 100.2, 6),
    (100.0, 8, 100.1, 2),
]


def test_reference_ofi_steps_and_sum():
    ofi = Ofi()
    steps = [ofi.update(l1(*s, time_ms=i * 100)) for i, s in enumerate(OFI_SNAPSHOTS)]
    assert steps[0] is None
    assert steps[1:] == pytest.approx([2.0, 7.0, -5.0], abs=1e-9)
    assert ofi.value == pytest.approx(4.0, abs=1e-9)


def test_ofi_first_observation_has_no_value():
    ofi = Ofi()
    ofi.update(l1(*OFI_SNAPSHOTS[0]))
    assert ofi.value is None
    assert ofi.last is None
    assert not ofi.ready


def test_ofi_resync_is_not_counted_as_flow():
    ofi = Ofi()
    ofi.update(l1(*OFI_SNAPSHOTS[0]))
    ofi.update(l1(*OFI_SNAPSHOTS[1]))
    assert ofi.update(l1(120.0, 50, 120.1, 1, resynced=True)) is None
    assert ofi.value == pytest.approx(2.0, abs=1e-9)  # earlier real events stay
    assert ofi.update(l1(120.0, 55, 120.1, 1)) == pytest.approx(5.0, abs=1e-9)


@pytest.mark.parametrize("bad", UNUSABLE)
def test_ofi_drops_unusable_books_and_restarts_after_them(bad):
    ofi = Ofi()
    ofi.update(l1(*OFI_SNAPSHOTS[0]))
    assert ofi.update(bad) is None
    assert ofi.skipped == 1
    assert ofi.update(l1(*OFI_SNAPSHOTS[1])) is None  # no step across the bad state
    assert ofi.update(l1(*OFI_SNAPSHOTS[2])) == pytest.approx(7.0, abs=1e-9)


def test_ofi_window_sums_trailing_steps_only():
    ofi = Ofi(window_ms=200)
    for i, s in enumerate(OFI_SNAPSHOTS):
        ofi.update(l1(*s, time_ms=i * 100))
    assert ofi.value == pytest.approx(7.0 - 5.0, abs=1e-9)  # the step at 100 ms has left


def test_multi_level_ofi_applies_the_formula_per_level():
    prev = book([(100.0, 5), (99.9, 3)], [(100.1, 4), (100.2, 1)])
    cur = book([(100.0, 7), (99.9, 1)], [(100.1, 4), (100.2, 6)])
    mlofi = MultiLevelOfi(levels=3)
    assert mlofi.update(prev) == (None, None, None)
    assert mlofi.value == (None, None, None)
    assert mlofi.update(cur) == pytest.approx((2.0, -2.0 - 5.0, None))
    assert mlofi.value[2] is None  # missing level: no fake 0
    assert mlofi.ready
    mlofi.update(book([(100.0, 7)], [(100.1, 4)], resynced=True))
    assert mlofi.last == (None, None, None)


def test_multi_level_ofi_level_one_equals_best_level_ofi():
    ofi, mlofi = Ofi(), MultiLevelOfi(levels=1)
    for s in OFI_SNAPSHOTS:
        ofi.update(l1(*s))
        mlofi.update(l1(*s))
    assert mlofi.value == (ofi.value,)
    mlofi.update(CROSSED_BOOK)
    assert mlofi.skipped == 1
    mlofi.reset()
    assert mlofi.value == (None,)
