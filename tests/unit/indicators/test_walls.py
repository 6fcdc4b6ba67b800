import pytest

from indicators.walls import ASK, BID, LiquidityWalls, WallConfig
from tests.unit.indicators.samples import CROSSED_BOOK, EMPTY_BOOK, ONE_SIDED_BOOK, book

# Reference §4
BIDS = [(100.0, 5), (99.9, 3), (99.8, 2), (99.7, 40), (99.6, 4)]
ASKS = [(100.1, 1), (100.2, 4), (100.3, 10), (100.4, 3), (100.5, 2)]
NOW = WallConfig(min_age_ms=0)


def test_reference_k5_finds_bid_wall_and_no_ask_wall():
    walls = LiquidityWalls(NOW)
    near = walls.update(book(BIDS, ASKS))
    assert near is not None
    assert near.bid is not None
    assert near.bid.ticks == 997
    assert near.bid_bps == pytest.approx(34.9825, abs=1e-4)
    assert near.bid_bps == pytest.approx(3.5 / 1000.5 * 1e4, abs=1e-9)
    assert near.bid_ticks == 3
    assert near.ask is None
    assert near.ask_bps is None
    assert near.ask_ticks is None


def test_reference_k3_also_finds_ask_wall():
    walls = LiquidityWalls(WallConfig(k_mult=3.0, min_age_ms=0))
    near = walls.update(book(BIDS, ASKS))
    assert near.bid.ticks == 997
    assert near.ask.ticks == 1003
    assert near.ask_bps == pytest.approx(24.9875, abs=1e-4)
    assert near.ask_bps == pytest.approx(2.5 / 1000.5 * 1e4, abs=1e-9)
    assert near.ask_ticks == 2


@pytest.mark.parametrize("bad", [EMPTY_BOOK, ONE_SIDED_BOOK, CROSSED_BOOK])
def test_unusable_book_gives_none(bad):
    walls = LiquidityWalls(NOW)
    assert walls.update(bad) is None
    assert not walls.ready


def test_wall_must_persist_before_it_counts():
    walls = LiquidityWalls(WallConfig(min_age_ms=5000))
    assert walls.update(book(BIDS, ASKS, time_ms=0)).bid is None
    assert walls.update(book(BIDS, ASKS, time_ms=4999)).bid is None
    assert walls.update(book(BIDS, ASKS, time_ms=5000)).bid.first_seen_ms == 0
    assert [w.side for w in walls.walls] == [BID]


def test_flicker_that_never_persisted_emits_no_event():
    walls = LiquidityWalls(WallConfig(min_age_ms=5000))
    walls.update(book(BIDS, ASKS, time_ms=0))
    walls.update(book([(100.0, 5), (99.9, 3), (99.8, 2), (99.7, 4), (99.6, 4)], ASKS, time_ms=100))
    assert walls.events == ()
    assert walls.walls == []


def test_wall_removed_away_from_price_is_pulled():
    walls = LiquidityWalls(WallConfig(min_age_ms=1000))
    walls.update(book(BIDS, ASKS, time_ms=0))
    walls.update(book(BIDS, ASKS, time_ms=1000))
    pulled = [(100.0, 5), (99.9, 3), (99.8, 2), (99.7, 4), (99.6, 4)]
    near = walls.update(book(pulled, ASKS, time_ms=1100))
    assert near.bid is None
    ((kind, wall),) = walls.events
    assert kind == "pulled"
    assert (wall.side, wall.ticks, wall.max_qty, wall.first_seen_ms, wall.last_seen_ms) == (
        BID,
        997,
        40,
        0,
        1000,
    )


def test_wall_traded_into_is_reached_not_pulled():
    walls = LiquidityWalls(WallConfig(min_age_ms=1000))
    walls.update(book(BIDS, ASKS, time_ms=0))
    walls.update(book(BIDS, ASKS, time_ms=1000))
    # Sellers ate 100.0–99.8 and part of the wall; the touch is now the wall's level.
    eaten = [(99.7, 6), (99.6, 4), (99.5, 5), (99.4, 6), (99.3, 5)]
    walls.update(book(eaten, [(99.8, 1), *ASKS[:4]], time_ms=1100))
    assert [e.kind for e in walls.events] == ["reached"]


def test_wall_left_behind_by_the_mid_is_out_of_view():
    walls = LiquidityWalls(WallConfig(min_age_ms=1000, band_bps=50))
    walls.update(book(BIDS, ASKS, time_ms=0))
    walls.update(book(BIDS, ASKS, time_ms=1000))
    up = [(p + 1.0, q) for p, q in BIDS]
    up[3] = (100.7, 4)
    walls.update(book(up, [(p + 1.0, q) for p, q in ASKS], time_ms=1100))
    assert [e.kind for e in walls.events] == ["out_of_view"]


def test_resync_forgets_walls_without_events():
    walls = LiquidityWalls(WallConfig(min_age_ms=1000))
    walls.update(book(BIDS, ASKS, time_ms=0))
    walls.update(book(BIDS, ASKS, time_ms=1000))
    near = walls.update(book(BIDS, ASKS, time_ms=1100, resynced=True))
    assert walls.events == ()
    assert near.bid is None  # persistence restarts at the resync
    assert walls.walls[0].first_seen_ms == 1100


def test_buckets_sum_a_wall_split_across_ticks():
    bids = [(100.0, 5), (99.9, 3), (99.8, 2), (99.7, 12), (99.6, 11), (99.5, 4)]
    asks = [(100.1, 4), (100.2, 4), (100.3, 4), (100.4, 4)]
    assert LiquidityWalls(NOW).update(book(bids, asks)).bid is None
    bucketed = LiquidityWalls(WallConfig(min_age_ms=0, bucket_ticks=2, k_mult=3.0))
    near = bucketed.update(book(bids, asks))
    # buckets: 500→{100.0: 5}, 499→{99.9, 99.8}: 5, 498→{99.7, 99.6}: 23, 497→{99.5}: 4
    assert near.bid.qty == 23
    assert near.bid.ticks == 997  # the bucket's largest level
    assert near.ask is None


def test_min_notional_filters_small_walls():
    cfg = WallConfig(min_age_ms=0, min_notional=99.7 * 40 + 1)
    assert LiquidityWalls(cfg).update(book(BIDS, ASKS)).bid is None


def test_reset_clears_state():
    walls = LiquidityWalls(NOW)
    walls.update(book(BIDS, ASKS))
    walls.reset()
    assert walls.value is None
    assert walls.walls == []
    assert ASK == -BID
