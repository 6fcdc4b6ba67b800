import pytest

from indicators.bars import TimeBars, VolumeBars
from indicators.types import Trade

# Reference §1.4: (price, qty, m)
REF_TRADES = [(100.0, 2.0, False), (100.1, 1.0, True), (100.1, 3.0, False), (100.0, 5.0, True)]


def trades_at(start_ms: int, step_ms: int, rows: list[tuple[float, float, bool]]) -> list[Trade]:
    return [Trade(start_ms + i * step_ms, p, q, m) for i, (p, q, m) in enumerate(rows)]


def close_one_bar(rows: list[tuple[float, float, bool]]):
    bars = TimeBars(60_000, tick_size=0.1)
    for trade in trades_at(0, 1000, rows):
        assert bars.update(trade) == []
    (bar,) = bars.advance(60_000)
    return bar


def test_reference_bar_has_delta_minus_one_over_eleven():
    bar = close_one_bar(REF_TRADES)
    assert bar.buy_volume == pytest.approx(5.0, abs=1e-9)
    assert bar.sell_volume == pytest.approx(6.0, abs=1e-9)
    assert bar.delta == pytest.approx(-1.0, abs=1e-9)
    assert bar.volume == pytest.approx(11.0, abs=1e-9)
    assert bar.normalized_delta == pytest.approx(-1.0 / 11.0, abs=1e-9)
    assert (bar.open, bar.high, bar.low, bar.close) == (100.0, 100.1, 100.0, 100.0)
    assert bar.trade_count == 4
    assert bar.vwap == pytest.approx((200.0 + 100.1 + 300.3 + 500.0) / 11.0, abs=1e-9)


def test_footprint_rows_split_buy_and_sell_by_tick():
    bar = close_one_bar(REF_TRADES)
    assert bar.footprint.rows == {1000: (2.0, 5.0), 1001: (3.0, 1.0)}
    assert bar.footprint.row_price(1001) == pytest.approx(100.1, abs=1e-9)


def test_footprint_rows_of_k_ticks_merge_adjacent_ticks():
    bars = TimeBars(60_000, tick_size=0.1, row_ticks=5)
    for trade in trades_at(0, 1, [(100.0, 1, False), (100.4, 2, True), (100.5, 3, False)]):
        bars.update(trade)
    (bar,) = bars.advance(60_000)
    assert bar.footprint.rows == {200: (1.0, 2.0), 201: (3.0, 0.0)}
    assert bar.footprint.row_price(201) == pytest.approx(100.5, abs=1e-9)


def test_time_bars_are_epoch_aligned_and_gap_filled_with_empty_bars():
    bars = TimeBars(1000, tick_size=0.1)
    assert bars.update(Trade(1500, 10.0, 1.0, False)) == []
    closed = bars.update(Trade(4200, 11.0, 2.0, True))
    assert [(b.start_ms, b.end_ms, b.trade_count) for b in closed] == [
        (1000, 2000, 1),
        (2000, 3000, 0),
        (3000, 4000, 0),
    ]
    empty = closed[1]
    assert (empty.open, empty.high, empty.low, empty.close) == (10.0, 10.0, 10.0, 10.0)
    assert empty.volume == 0.0
    assert empty.delta == 0.0
    assert empty.normalized_delta is None
    assert empty.vwap is None
    assert bars.value is closed[-1]


def test_time_bars_without_gap_fill_skip_quiet_intervals():
    bars = TimeBars(1000, tick_size=0.1, fill_gaps=False)
    bars.update(Trade(1500, 10.0, 1.0, False))
    closed = bars.update(Trade(4200, 11.0, 2.0, True))
    assert [(b.start_ms, b.trade_count) for b in closed] == [(1000, 1)]
    (last,) = bars.advance(5000)
    assert (last.start_ms, last.end_ms, last.close) == (4000, 5000, 11.0)


def test_no_bar_and_not_ready_before_first_close():
    bars = TimeBars(1000, tick_size=0.1)
    assert bars.value is None
    assert not bars.ready
    assert bars.partial() is None
    assert bars.advance(10_000) == []
    bars.update(Trade(10, 5.0, 1.0, True))
    partial = bars.partial()
    assert partial is not None
    assert partial.sell_volume == 1.0
    assert not bars.ready


def test_volume_bars_close_on_threshold_without_splitting_trades():
    bars = VolumeBars(5.0, tick_size=0.1)
    stream = trades_at(100, 10, REF_TRADES)
    closed = bars.update_many(stream)
    assert [(b.start_ms, b.end_ms, b.volume, b.trade_count) for b in closed] == [
        (100, 120, 6.0, 3),
        (130, 130, 5.0, 1),
    ]
    assert bars.partial() is None


def test_update_many_equals_update_one_by_one():
    stream = [Trade(i * 137, 100 + (i % 7) * 0.1, 1 + i % 3, i % 2 == 0) for i in range(500)]
    one, many = TimeBars(1000, 0.1, row_ticks=2), TimeBars(1000, 0.1, row_ticks=2)
    singles = [bar for trade in stream for bar in one.update(trade)]
    assert singles == many.update_many(stream)
    assert one.partial() == many.partial()


def test_reset_forgets_everything():
    bars = VolumeBars(1.0, tick_size=0.1)
    bars.update(Trade(1, 10.0, 2.0, False))
    assert bars.ready
    bars.reset()
    assert bars.value is None
    assert bars.partial() is None


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError):
        TimeBars(0, 0.1)
    with pytest.raises(ValueError):
        VolumeBars(1.0, 0.0)
    with pytest.raises(ValueError):
        TimeBars(1000, 0.1, row_ticks=0)
