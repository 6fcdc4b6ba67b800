"""Splicing Bybit's REST trade window onto the trades seen before a break."""

from __future__ import annotations

import datetime as dt
import uuid

from collector.venues.bybit.rows import TradeRow
from collector.venues.bybit.trades import TradeLedger

T0 = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def trade(n: int) -> TradeRow:
    t = T0 + dt.timedelta(milliseconds=n)
    return TradeRow(t, "BTCUSDT", "linear", uuid.UUID(int=n + 1, version=4), 1.0, 1.0, False,
                    n, None, False, None, None, t, None)  # fmt: skip


def test_repeats_are_dropped_by_id():
    ledger = TradeLedger()
    assert ledger.fresh([trade(1), trade(2)]) == [trade(1), trade(2)]
    assert ledger.fresh([trade(2), trade(3)]) == [trade(3)]
    assert ledger.newest == trade(3)


def test_a_window_holding_the_last_trade_seen_proves_the_outage_complete():
    ledger = TradeLedger()
    ledger.fresh([trade(n) for n in range(10)])
    ledger.cut()
    ledger.fresh([trade(n) for n in range(30, 35)])  # the new connection already delivers
    splice = ledger.splice([trade(n) for n in range(5, 33)], asked=28)
    assert splice.proven and splice.gap is None
    assert splice.rows == [trade(n) for n in range(10, 30)]  # exactly the missed ones


def test_a_full_window_that_misses_the_last_trade_seen_declares_a_gap():
    ledger = TradeLedger()
    ledger.fresh([trade(n) for n in range(10)])
    ledger.cut()
    ledger.cut()  # a second break before the splice keeps the first anchor
    splice = ledger.splice([trade(n) for n in range(50, 60)], asked=10)
    assert not splice.proven and splice.gap == (trade(9).time, trade(50).time)
    assert splice.rows == [trade(n) for n in range(50, 60)]
    assert ledger.anchor is None


def test_a_short_window_is_all_the_venue_keeps_and_a_start_has_nothing_to_prove():
    ledger = TradeLedger()
    ledger.fresh([trade(1)])
    ledger.cut()
    assert ledger.splice([trade(5)], asked=1000).proven
    assert TradeLedger().splice([trade(n) for n in range(3)], asked=3).proven


def test_forgotten_ids_beyond_keep_come_back_as_rows():
    ledger = TradeLedger(keep=2)
    ledger.fresh([trade(1), trade(2), trade(3)])
    assert ledger.fresh([trade(1), trade(3)]) == [trade(1)]
