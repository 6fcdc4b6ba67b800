"""Which parts of a hole found in the stored ids no declared gap covers (the start-up scan)."""

from __future__ import annotations

import datetime as dt

from collector.resume import uncovered

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _brk(first: int, last: int, symbol: str = "BTCUSDT") -> dict:
    return {
        "symbol": symbol,
        "first_id": first,
        "last_id": last,
        "prev_time": T0,
        "time": T0 + dt.timedelta(seconds=10),
    }


def _gap(first, last, symbol="BTCUSDT", start=None, end=None) -> dict:
    return {
        "symbol": symbol,
        "first_id": first,
        "last_id": last,
        "start_time": start,
        "end_time": end,
    }


def test_a_hole_no_gap_touches_is_all_undeclared():
    assert uncovered(_brk(100, 120), []) == [(100, 120)]
    assert uncovered(_brk(100, 120), [_gap(100, 120, symbol="ETHUSDT")]) == [(100, 120)]


def test_declared_ranges_are_taken_out_of_the_hole():
    gaps = [_gap(90, 104), _gap(110, 112), _gap(119, 130)]
    assert uncovered(_brk(100, 120), gaps) == [(105, 109), (113, 118)]
    assert uncovered(_brk(100, 120), [_gap(95, 125)]) == []


def test_rows_dropped_with_a_full_spool_are_declared_by_time_without_a_symbol():
    inside = _gap(None, None, None, T0 + dt.timedelta(seconds=2), T0 + dt.timedelta(seconds=5))
    before = _gap(None, None, None, T0 - dt.timedelta(seconds=9), T0 - dt.timedelta(seconds=1))
    assert uncovered(_brk(100, 120), [inside]) == []
    assert uncovered(_brk(100, 120), [before]) == [(100, 120)]
