"""The commit watermark's holds: late rows (a connection down, an aggTrade backfill) keep it
back until they are committed. Pure bookkeeping: the writers are never run here."""

from __future__ import annotations

import time

from db.writer import HOLD_MARGIN, CommitWatermark, TableWriter


async def _no_db():  # the writers are only bookkeeping here
    raise AssertionError("not connected in this test")


def _watermark(hold_max: float = 60.0) -> tuple[CommitWatermark, TableWriter, TableWriter]:
    mark = CommitWatermark(hold_max)
    trades = TableWriter("agg_trades", ["time"], _no_db, watermark=mark)
    depth = TableWriter("depth_updates", ["time"], _no_db, watermark=mark)
    return mark, trades, depth


def _ms(payload: str) -> int:
    return int(payload.split()[0])


def test_without_holds_the_watermark_is_the_least_committed_writer():
    mark, trades, depth = _watermark()
    depth.committed_through = 100.0
    assert _ms(mark.payload(trades, 200.0)) == 100_000
    assert mark.payload(trades, 200.0).split()[1] == mark.instance


def test_a_hold_keeps_it_back_until_every_writer_committed_past_the_release():
    mark, trades, depth = _watermark()
    before = time.time()
    mark.hold("hole")
    depth.committed_through = before + 10
    held = _ms(mark.payload(trades, before + 10))
    assert held <= int((before - HOLD_MARGIN) * 1000) + 1000 * (time.time() - before) + 1
    mark.release("hole")
    released = time.time()
    # the backfilled rows were put before the release: not committed yet, still held
    assert _ms(mark.payload(trades, released - 0.001)) == held
    depth.committed_through = released + 1
    assert _ms(mark.payload(trades, released + 1)) == int((released + 1) * 1000)


def test_a_hold_placed_while_another_is_on_continues_it():
    mark, trades, depth = _watermark()
    depth.committed_through = time.time() + 5
    mark.hold(("market-1", 1))  # the connection dropped ...
    first = _ms(mark.payload(trades, time.time() + 5))
    time.sleep(0.01)
    mark.hold("hole")  # ... and its first trade after the reconnect shows ids were missed
    now = time.time()
    mark.release(("market-1", 1))
    depth.committed_through = now + 5
    assert _ms(mark.payload(trades, now + 5)) == first  # the hole's hold starts where it did
    mark.release("hole")
    later = time.time() + 5
    depth.committed_through = later
    assert _ms(mark.payload(trades, later)) == int(later * 1000)


def test_a_hold_never_released_ends_after_hold_max():
    mark, trades, depth = _watermark(hold_max=0.05)
    mark.hold("banned")
    now = time.time()
    depth.committed_through = now + 5
    assert _ms(mark.payload(trades, now + 5)) < int(now * 1000)
    time.sleep(0.06)
    assert _ms(mark.payload(trades, now + 5)) == int((now + 5) * 1000)


def test_holding_or_releasing_twice_changes_nothing():
    mark, trades, depth = _watermark()
    depth.committed_through = time.time() + 5
    mark.hold("k")
    first = _ms(mark.payload(trades, time.time() + 5))
    time.sleep(0.01)
    mark.hold("k")
    mark.release("k")
    released = time.time()
    time.sleep(0.01)
    mark.release("k")  # a second release does not move the release later
    depth.committed_through = released + 0.005
    assert _ms(mark.payload(trades, released + 0.005)) == int((released + 0.005) * 1000)
    assert first < int(released * 1000)
