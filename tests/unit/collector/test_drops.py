"""The ids a full spool dropped, per symbol: what the declared gap of depth diffs spans."""

from __future__ import annotations

import datetime as dt

from collector.drops import DroppedDiffs, Drops
from collector.rows import DepthUpdateRow

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _diff(symbol: str, first: int, last: int, pu: int | None, second: int, market="usdm"):
    t = T0 + dt.timedelta(seconds=second)
    return DepthUpdateRow(t, symbol, market, t, first, last, pu, [], [], [], [], t, None)


def test_a_symbols_dropped_diffs_become_one_hole_from_after_the_u_they_follow():
    drops = DroppedDiffs()
    drops.add([_diff("BTCUSDT", 105, 110, 100, 1), _diff("ETHUSDT", 7, 9, 6, 2)])
    drops.add([_diff("BTCUSDT", 111, 120, 110, 3)])
    btc, eth = drops._holes["usdm", "BTCUSDT"], drops._holes["usdm", "ETHUSDT"]
    # futures: the ids between pu and U are missing too (the stream skips ids)
    assert (btc.first_id, btc.last_id, btc.after, btc.before) == (
        101, 120, T0 + dt.timedelta(seconds=1), T0 + dt.timedelta(seconds=3)
    )  # fmt: skip
    assert (eth.first_id, eth.last_id) == (7, 9)


def test_spot_diffs_have_no_pu_and_start_at_their_first_id():
    drops = DroppedDiffs()
    drops.add([_diff("BTCUSDT", 50, 60, None, 1, market="spot")])
    hole = drops._holes["spot", "BTCUSDT"]
    assert (hole.first_id, hole.last_id) == (50, 60)


def test_without_a_keeper_the_drops_are_left_to_a_time_span_gap():
    drops = Drops()
    drops.diffs.add([_diff("BTCUSDT", 105, 110, 100, 1)])
    assert drops.handled("depth_updates") is False
    assert drops.diffs._holes == {}  # declared by time span instead: not twice
    assert drops.handled("mark_prices") is False
    assert drops.collector("mark_prices") is None
