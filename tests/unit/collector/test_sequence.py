"""aggTrade id sequences: poison ids are held and refused, ids that start again start an era."""

import datetime as dt

from collector.venues.binance.sequence import Seen, TradeSequence

T0 = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_an_absurd_id_is_held_and_the_sequence_goes_on_without_it():
    seq = TradeSequence(100, at(0))
    assert seq.observe(10**15, at(0.1)) == (Seen.SUSPECT, None)
    assert seq.observe(101, at(0.2)) == (Seen.NEW, None)  # the suspect was poison
    assert seq.last_id == 101 and seq.suspect is None and not seq.holes


def test_a_long_plausible_jump_is_a_hole():
    seq = TradeSequence(100, at(0))
    assert seq.observe(5_000, at(1)) == (Seen.NEW, (101, 4_999))
    assert seq.span == (at(0), at(1))


def test_ids_that_start_again_with_newer_times_begin_a_new_era():
    seq = TradeSequence(900_000, at(0))  # what an earlier run stored
    assert seq.observe(1, at(60)) == (Seen.SUSPECT, None)
    assert seq.observe(2, at(60.1)) == (Seen.ERA, None)
    assert seq.observe(3, at(60.2)) == (Seen.NEW, None)
    assert seq.last_id == 3


def test_an_overlapping_replay_is_a_duplicate_not_an_era():
    seq = TradeSequence(100, at(10))
    assert seq.observe(99, at(9)) == (Seen.DUPLICATE, None)
    assert seq.observe(100, at(10)) == (Seen.DUPLICATE, None)


def test_a_late_fill_does_not_decide_a_held_suspect():
    seq = TradeSequence(100, at(0))
    assert seq.observe(105, at(1)) == (Seen.NEW, (101, 104))
    assert seq.observe(1, at(2)) == (Seen.SUSPECT, None)
    assert seq.observe(102, at(0.5)) == (Seen.FILLED, None)
    assert seq.observe(2, at(2.1)) == (Seen.ERA, None)  # the suspect and this one agree
