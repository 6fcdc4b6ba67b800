"""Wall breakout and bounce (seeds 000/002) on hand-built snapshot sequences."""

from __future__ import annotations

import pytest

from indicators.types import BookState, Level
from indicators.walls import ASK, BID, WallEvent
from strategy.signals import Side
from strategy.snapshot import Snapshot
from strategy.strategies.wall import WallStrategy
from tests.unit.strategy.test_strategies_base import bar, mirror, run, wall

ASK_WALL = 101.0
BID_WALL = 100.0


def with_wall(snap: Snapshot, side: int, price: float, qty: float, max_qty: float) -> Snapshot:
    """`snap` with a persistent wall that the pipeline reports as the nearest on its side."""
    snap.walls = (wall(side, price, qty, max_qty),)
    if side == ASK:
        snap.ask_wall_price, snap.ask_wall_qty, snap.ask_wall_bps = price, qty, 5.0
    else:
        snap.bid_wall_price, snap.bid_wall_qty, snap.bid_wall_bps = price, qty, 5.0
    return snap


def breakout(end: str = "reached", qty_left: float = 0.0, **last: object) -> list[Snapshot]:
    """An ask wall of 50 at 101.00 under the price for three bars, then eaten (or pulled, or
    eroded in place to `qty_left`), then a bar closing through it on buying."""
    snaps = [with_wall(bar(i, 100.9), ASK, ASK_WALL, 50.0, 50.0) for i in range(3)]
    gone = bar(3, 100.95, high=ASK_WALL)
    if end == "eroded":
        with_wall(gone, ASK, ASK_WALL, qty_left, 50.0)
    else:
        gone.wall_events = (WallEvent(end, wall(ASK, ASK_WALL, 20.0, 50.0)),)
    values: dict[str, object] = {"high": 101.1, "delta": 6.0, "normalized_delta": 0.6}
    values |= {"rolling_vwap": 100.9, "fp_buy_imbalances": 2, **last}
    return [*snaps, gone, bar(4, 101.05, **values)]


def bounce(**hold: object) -> list[Snapshot]:
    """A bid wall of 50 at 100.00, touched on bar 1, held for three bars."""
    snaps = [with_wall(bar(0, 100.2, low=100.15), BID, BID_WALL, 50.0, 50.0)]
    touch = {"low": BID_WALL, "delta": -4.0}
    snaps.append(with_wall(bar(1, 100.02, **touch), BID, BID_WALL, 45.0, 50.0))
    values: dict[str, object] = {"low": BID_WALL, "delta": 2.0, "imbalance": 0.25, **hold}
    qty = float(values.pop("qty", 48.0))  # type: ignore[arg-type]
    for i in (2, 3, 4):
        snaps.append(with_wall(bar(i, 100.04, **values), BID, BID_WALL, qty, 50.0))
    return snaps


def test_breakout_long_through_an_eaten_ask_wall():
    snaps = breakout()
    signals = run(WallStrategy("BTCUSDT", {}), snaps)
    assert len(signals) == 1
    signal = signals[0]
    assert signal.side is Side.LONG and signal.strategy == "wall"
    assert signal.time_ms == snaps[-1].end_ms
    assert signal.entry == 101.05
    assert signal.stop == 100.9  # 10 bps under the wall: 100.899 on the tick
    assert signal.targets == (101.28, 101.5)  # 1.5R and 3R of 0.15
    reasons = signal.reasons
    assert reasons["kind"] == "breakout" and reasons["wall_side"] == "ask"
    assert reasons["wall_price"] == ASK_WALL and reasons["wall_end"] == "reached"
    assert reasons["erosion"] == 1.0 and reasons["new_territory"] is True
    # 30 eaten + 25 × 0.6 delta share + 15 footprint + 15 new high + 15 above VWAP
    assert signal.score == pytest.approx(90.0)


@pytest.mark.parametrize(
    ("end", "qty_left", "fires"),
    [("pulled", 0.0, True), ("eroded", 30.0, True), ("eroded", 40.0, False)],
)
def test_breakout_needs_the_wall_eroded_by_30_percent(end, qty_left, fires):
    signals = run(WallStrategy("BTCUSDT", {}), breakout(end, qty_left))
    assert len(signals) == fires


@pytest.mark.parametrize(
    "last",
    [
        pytest.param({"close": 101.01}, id="close within 2 bps of the wall"),
        pytest.param({"delta": -1.0}, id="selling into the break"),
        pytest.param({"rolling_vwap": 101.1}, id="below the rolling VWAP"),
        pytest.param({"rolling_vwap": None}, id="no VWAP"),
    ],
)
def test_each_breakout_condition_matters(last):
    assert len(run(WallStrategy("BTCUSDT", {}), breakout())) == 1
    assert run(WallStrategy("BTCUSDT", {}), breakout(**last)) == []


def test_breakout_must_close_through_on_the_bar():
    snaps = breakout()
    snaps[3].close = 101.03  # the bar before already closed beyond the wall
    assert run(WallStrategy("BTCUSDT", {}), snaps) == []


def test_forgotten_walls_give_nothing():
    snaps = breakout()
    assert run(WallStrategy("BTCUSDT", {"memory_bars": 1}), snaps) == []
    assert len(run(WallStrategy("BTCUSDT", {"memory_bars": 2}), breakout())) == 1
    snaps = breakout()
    _, old = snaps[3].wall_events[0]
    snaps[3].wall_events = (WallEvent("out_of_view", old),)
    assert run(WallStrategy("BTCUSDT", {}), snaps) == []


def test_mirrored_breakout_short_through_a_bid_wall():
    long_signal = run(WallStrategy("BTCUSDT", {}), breakout())[0]
    signals = run(WallStrategy("BTCUSDT", {}), [mirror(s) for s in breakout()])
    assert [s.side for s in signals] == [Side.SHORT]
    assert signals[0].reasons["wall_side"] == "bid"
    assert signals[0].stop == pytest.approx(200 - long_signal.stop)
    # bps of 99 and of 101 differ: the targets mirror to within a tick
    assert signals[0].targets == pytest.approx(
        tuple(200 - t for t in long_signal.targets), abs=0.011
    )
    assert signals[0].score == long_signal.score


def test_bounce_long_off_a_held_bid_wall():
    snaps = bounce()
    signals = run(WallStrategy("BTCUSDT", {}), snaps)
    assert len(signals) == 1
    signal = signals[0]
    assert signal.side is Side.LONG
    assert signal.time_ms == snaps[-1].end_ms  # the third bar of the hold
    assert signal.entry == 100.04
    assert signal.stop == 99.7  # 30 bps behind the wall
    assert signal.targets == (100.55, 101.06)  # 1.5R and 3R of 0.34
    reasons = signal.reasons
    assert reasons["kind"] == "bounce" and reasons["held_bars"] == 3
    assert reasons["hold_delta"] == 6.0 and reasons["wall_price"] == BID_WALL
    # 30 × 0.96 size kept + 25 × 0.5 imbalance + 15 delta + 0 footprint + 15 still near
    assert signal.score == pytest.approx(28.8 + 12.5 + 15 + 15)


@pytest.mark.parametrize(
    "hold",
    [
        pytest.param({"low": 99.99}, id="traded below the wall"),
        pytest.param({"qty": 30.0}, id="wall eroded by 40 %"),
        pytest.param({"close": 99.995, "low": 99.995}, id="closes under the wall"),
    ],
)
def test_each_bounce_condition_matters(hold):
    assert len(run(WallStrategy("BTCUSDT", {}), bounce())) == 1
    assert run(WallStrategy("BTCUSDT", {}), bounce(**hold)) == []


def test_bounce_needs_a_touch_and_enough_bars():
    snaps = bounce()
    snaps[1].low = 100.06  # 6 bps above the wall: never touched
    for s in snaps[2:]:
        s.low = 100.06
    assert run(WallStrategy("BTCUSDT", {}), snaps) == []
    assert run(WallStrategy("BTCUSDT", {"hold_bars": 4}), bounce()) == []
    assert run(WallStrategy("BTCUSDT", {"bounce": False}), bounce()) == []


def test_mirrored_bounce_short_off_an_ask_wall():
    long_signal = run(WallStrategy("BTCUSDT", {}), bounce())[0]
    signals = run(WallStrategy("BTCUSDT", {}), [mirror(s) for s in bounce()])
    assert [s.side for s in signals] == [Side.SHORT]
    assert signals[0].stop == pytest.approx(200 - long_signal.stop)
    assert signals[0].score == long_signal.score


def test_one_signal_per_wall_and_spacing():
    strategy = WallStrategy("BTCUSDT", {"cooldown_bars": 8})
    snaps = bounce()
    snaps += [with_wall(bar(i, 100.04, low=BID_WALL), BID, BID_WALL, 48.0, 50.0) for i in (5, 6)]
    # a new wall at another price, touched and held inside the cooldown: it waits for its end
    snaps += [with_wall(bar(i, 99.52, low=99.5), BID, 99.5, 50.0, 50.0) for i in range(7, 14)]
    signals = run(strategy, snaps)
    assert [(s.reasons["wall_price"], s.time_ms) for s in signals] == [
        (BID_WALL, snaps[4].end_ms),
        (99.5, snaps[12].end_ms),  # bar 12: 8 bars after bar 4
    ]


# -- seed 002's density definition, seed 000's ticks, the erosion exit -----------------------


def with_book(snaps: list[Snapshot], wall_qty: float, level_qty: float = 5.0) -> list[Snapshot]:
    """Each bar with a book of 20 bid levels of `level_qty` below 100.00 and the wall's size at
    100.00 (asks mirror the plain levels)."""
    top = round(BID_WALL / 0.01)
    for snap in snaps:
        bids = [Level(top, wall_qty), *(Level(top - i, level_qty) for i in range(1, 20))]
        asks = [Level(top + 5 + i, level_qty) for i in range(20)]
        snap.book = BookState(snap.time_ms, bids, asks, 0.01)
    return snaps


DENSITY = {"density_min_notional": 4000.0, "density_neighbour_mult": 3.0, "density_side_pct": 5.0}


@pytest.mark.parametrize(
    ("params", "wall_qty", "fires"),
    [
        pytest.param(DENSITY, 50.0, True, id="all three criteria"),
        pytest.param({**DENSITY, "density_min_notional": 6000.0}, 50.0, False, id="under floor"),
        pytest.param(DENSITY, 14.0, False, id="under 3x its neighbours"),
        pytest.param({**DENSITY, "density_side_pct": 40.0}, 50.0, False, id="under 40 % of side"),
    ],
)
def test_density_criteria_of_seed_002(params, wall_qty, fires):
    snaps = with_book(bounce(), wall_qty)
    assert len(run(WallStrategy("BTCUSDT", params), snaps)) == int(fires)


def test_touch_and_entry_offset_in_ticks():
    def touching_at(ticks: int) -> list[Snapshot]:
        snaps = bounce()
        snaps[1].low = BID_WALL + ticks * 0.01  # the touch bar comes `ticks` from the wall
        return snaps

    assert len(run(WallStrategy("BTCUSDT", {"touch_ticks": 5}), touching_at(5))) == 1
    assert run(WallStrategy("BTCUSDT", {"touch_ticks": 4}), touching_at(5)) == []
    # The hold closes at 100.04, 4 ticks above the wall: within an offset of 4, not of 3.
    assert len(run(WallStrategy("BTCUSDT", {"entry_offset_ticks": 4}), bounce())) == 1
    assert run(WallStrategy("BTCUSDT", {"entry_offset_ticks": 3}), bounce()) == []


def test_bounce_closes_when_its_density_erodes():
    strategy = WallStrategy("BTCUSDT", {"bounce_exit_erosion": 0.65})
    (signal,) = run(strategy, with_book(bounce(), 50.0))
    later = with_book([bar(6, 100.1)], 20.0)[0]  # 60 % eroded: still open
    assert strategy.exit_on_bar(later, signal, signal.entry) is None
    later = with_book([bar(7, 100.1)], 17.0)[0]  # 66 % eroded
    assert strategy.exit_on_bar(later, signal, signal.entry) == "density_erosion"
    assert WallStrategy("BTCUSDT", {}).exit_on_bar(later, signal, signal.entry) is None


def test_bounce_can_require_low_activity_in_the_hold():
    # the hold bars trade 10 a bar like the ones before them: quiet at 1.0, not at 0.9
    assert len(run(WallStrategy("BTCUSDT", {"bounce_max_activity": 1.0}), bounce())) == 1
    assert run(WallStrategy("BTCUSDT", {"bounce_max_activity": 0.9}), bounce()) == []
    loud = bounce()
    for snap in loud[2:]:
        snap.volume = 40.0  # a fight at the density, not a quiet test
    assert run(WallStrategy("BTCUSDT", {"bounce_max_activity": 1.5}), loud) == []


def _long_breakout(params: dict) -> tuple[WallStrategy, object]:
    """A wall strategy that signalled the breakout LONG at 101.05 (stop 100.90)."""
    strategy = WallStrategy("BTCUSDT", params)
    (signal,) = run(strategy, breakout())
    return strategy, signal


def test_take_profit_on_slowdown_only_in_profit():
    strategy, signal = _long_breakout({"tp_slowdown_mult": 3.0, "tp_slowdown_bars": 2})
    strategy.on_bar(bar(5, 101.3, open=101.1))  # bodies of 0.20 and 0.30: the move under way
    strategy.on_bar(bar(6, 101.6, open=101.3))
    # the pace of bars 5–6 is 0.25; bars 7–8 at 0.10 and 0.08: 0.09 x 3 = 0.27, not below it
    strategy.on_bar(bar(7, 101.7, open=101.6))
    assert strategy.exit_on_bar(bar(8, 101.78, open=101.7), signal, signal.entry) is None
    spent = bar(8, 101.72, open=101.7)  # 0.06 x 3 = 0.18 < 0.25
    assert strategy.exit_on_bar(spent, signal, signal.entry) == "tp_slowdown"
    at_a_loss = bar(8, 101.0, open=100.98)
    assert strategy.exit_on_bar(at_a_loss, signal, signal.entry) is None
    assert WallStrategy("BTCUSDT", {}).exit_on_bar(spent, signal, signal.entry) is None


def test_take_profit_on_counter_aggression():
    strategy, signal = _long_breakout({"tp_counter_delta": 0.5})
    sold_into = bar(5, 101.2, normalized_delta=-0.6)
    assert strategy.exit_on_bar(sold_into, signal, signal.entry) == "tp_aggression"
    bought = bar(5, 101.2, normalized_delta=0.6)
    assert strategy.exit_on_bar(bought, signal, signal.entry) is None


def test_take_profit_at_a_counter_density_ahead():
    strategy, signal = _long_breakout({"tp_counter_bps": 10.0})
    strategy.on_bar(with_wall(bar(5, 101.1), ASK, 101.2, 50.0, 50.0))  # a new ask wall ahead
    close_to_it = bar(6, 101.15)  # 0.05 from it, inside 10 bps (0.10)
    assert strategy.exit_on_bar(close_to_it, signal, signal.entry) == "tp_counter_density"
    near, _ = _long_breakout({"tp_counter_bps": 2.0})
    near.on_bar(with_wall(bar(5, 101.1), ASK, 101.2, 50.0, 50.0))
    assert near.exit_on_bar(close_to_it, signal, signal.entry) is None  # 2 bps: 0.02


def test_take_profit_at_the_known_high_of_the_hours_before():
    snaps = breakout()
    snaps[0].high = 101.3  # the high of the hour before the signal, above the entry
    strategy = WallStrategy("BTCUSDT", {"tp_extrema_hours": 1.0})
    (signal,) = run(strategy, snaps)
    assert strategy.exit_on_bar(bar(5, 101.2), signal, signal.entry) is None
    assert strategy.exit_on_bar(bar(5, 101.3), signal, signal.entry) == "tp_known_level"
    below_entry = WallStrategy("BTCUSDT", {"tp_extrema_hours": 1.0})
    (signal,) = run(below_entry, breakout())  # the hour's high (101.1) is the signal bar's own
    assert below_entry.exit_on_bar(bar(5, 101.3), signal, signal.entry) is None


def test_breakout_trend_from_the_change_over_hours_and_the_book():
    assert (
        len(run(WallStrategy("BTCUSDT", {"trend_book": True}), breakout(band_imbalance=0.2))) == 1
    )
    assert run(WallStrategy("BTCUSDT", {"trend_book": True}), breakout(band_imbalance=-0.2)) == []
    # over 0.05 h (3 bars): bar 4 closes at 101.05 against bar 1's 100.90, up: a LONG agrees
    assert len(run(WallStrategy("BTCUSDT", {"trend_hours": 0.05}), breakout())) == 1
    falling = breakout()
    falling[0].close = falling[0].high = falling[1].close = falling[1].high = 101.5
    assert run(WallStrategy("BTCUSDT", {"trend_hours": 0.05}), falling) == []
    # a history that does not reach back that far is not judged
    assert len(run(WallStrategy("BTCUSDT", {"trend_hours": 1.0}), falling)) == 1
