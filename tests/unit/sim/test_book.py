"""The order book: levels, ordering and sweeps, against a plain-dict model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sim.book import ASK, BID, OrderBook


def test_best_levels_and_top_are_ordered_best_first() -> None:
    book = OrderBook()
    for tick, lots in ((100, 5), (98, 1), (99, 2)):
        book.set(BID, tick, lots)
    for tick, lots in ((103, 4), (101, 3), (102, 9)):
        book.set(ASK, tick, lots)
    assert book.best_bid() == 100
    assert book.best_ask() == 101
    assert book.top(BID, 2) == [(100, 5), (99, 2)]
    assert book.top(ASK, 10) == [(101, 3), (102, 9), (103, 4)]
    assert book.tick_at(BID, 2) == 98
    assert book.worst(ASK) == 103


def test_zero_quantity_removes_a_level_and_removing_a_missing_level_is_harmless() -> None:
    book = OrderBook()
    book.set(BID, 100, 5)
    book.set(BID, 100, 0)
    book.set(BID, 42, 0)
    assert book.best_bid() is None
    assert book.depth(BID) == 0


def test_sweep_takes_levels_in_price_order_and_stops_at_the_limit() -> None:
    book = OrderBook()
    for tick in (101, 102, 103):
        book.set(ASK, tick, 10)
    fills = book.sweep(taker_buys=True, lots=25, limit_tick=102)
    assert fills == [(101, 10, 0), (102, 10, 0)]
    assert book.best_ask() == 103
    fills = book.sweep(taker_buys=True, lots=4)
    assert fills == [(103, 4, 6)]


ops = st.lists(
    st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 40), st.integers(0, 5)), max_size=200
)


@given(ops)
def test_book_matches_a_dict_model(operations: list[tuple[str, int, int]]) -> None:
    book = OrderBook()
    model: dict[str, dict[int, int]] = {BID: {}, ASK: {}}
    for side, tick, lots in operations:
        book.set(side, tick, lots)  # type: ignore[arg-type]
        if lots:
            model[side][tick] = lots
        else:
            model[side].pop(tick, None)
    assert book.top(BID, 100) == sorted(model[BID].items(), reverse=True)
    assert book.top(ASK, 100) == sorted(model[ASK].items())
    copy = book.copy()
    copy.set(BID, 1000, 1)
    assert book.qty(BID, 1000) == 0
