"""The spot deal's decisions (strategy/spot/deal.py) on what the exchange says of its order."""

from __future__ import annotations

import uuid

import pytest

from strategy.spot.deal import Deal, OrderView, decide, stop_hit

LIFETIME = 60_000


def deal(state: str = "buying", **changes: object) -> Deal:
    d = Deal(
        uuid.UUID(int=0xABCDEF), "BTCUSDT", "macd_book", state, quota=100.0, markup=0.01,
        stop_frac=0.03, buy_price=50_000.0, buy_qty=0.002, placed_ms=1_000,
    )  # fmt: skip
    for key, value in changes.items():
        setattr(d, key, value)
    return d


def order(status: str, executed: float = 0.0, price: float = 0.0) -> OrderView:
    return OrderView(status, executed, price)


def test_a_buy_never_sent_is_sent_and_one_resting_waits_out_its_lifetime():
    assert decide(deal(), None, 2_000, LIFETIME, 3) == "place_buy"
    assert decide(deal(), order("NEW"), 1_000 + LIFETIME - 1, LIFETIME, 3) == "wait"
    assert decide(deal(), order("NEW"), 1_000 + LIFETIME, LIFETIME, 3) == "cancel_buy"
    partly = order("PARTIALLY_FILLED", 0.001, 50_000.0)
    assert decide(deal(), partly, 1_000 + LIFETIME, LIFETIME, 3) == "cancel_buy"


def test_a_cancelled_buy_is_replaced_until_the_attempts_are_used_up():
    assert decide(deal(attempt=0), order("CANCELED"), 0, LIFETIME, 3) == "replace_buy"
    assert decide(deal(attempt=1), order("CANCELED"), 0, LIFETIME, 3) == "replace_buy"
    assert decide(deal(attempt=2), order("CANCELED"), 0, LIFETIME, 3) == "give_up"
    assert decide(deal(attempt=0), order("EXPIRED"), 0, LIFETIME, 1) == "give_up"


def test_a_filled_buy_or_one_cancelled_after_a_partial_fill_gets_its_sell():
    assert decide(deal(), order("FILLED", 0.002, 50_000.0), 0, LIFETIME, 3) == "place_sell"
    assert decide(deal(attempt=2), order("CANCELED", 0.001, 50_000.0), 0, LIFETIME, 3) == (
        "place_sell"
    )


def test_selling_closes_when_the_sell_fills_and_sells_again_when_it_went_missing():
    selling = deal("selling", fill_price=50_000.0, sell_qty=0.002, sell_price=50_500.0)
    assert decide(selling, order("NEW"), 10**12, LIFETIME, 3) == "wait"  # no lifetime on sells
    assert decide(selling, order("FILLED", 0.002, 50_500.0), 0, LIFETIME, 3) == "close"
    assert decide(selling, None, 0, LIFETIME, 3) == "place_sell"
    assert decide(selling, order("CANCELED"), 0, LIFETIME, 3) == "place_sell"


def test_stopping_sells_at_market_until_filled():
    stopping = deal("stopping", fill_price=50_000.0, sell_qty=0.002)
    assert decide(stopping, None, 0, LIFETIME, 3) == "stop"
    assert decide(stopping, order("EXPIRED", 0.001, 48_000.0), 0, LIFETIME, 3) == "stop"
    assert decide(stopping, order("FILLED", 0.002, 48_000.0), 0, LIFETIME, 3) == "close"


def test_the_hard_stop_is_stop_frac_below_the_fill_and_only_while_selling():
    selling = deal("selling", fill_price=50_000.0)
    assert selling.stop_price == pytest.approx(48_500.0)
    assert stop_hit(selling, 48_500.0) and stop_hit(selling, 48_000.0)
    assert not stop_hit(selling, 48_500.01)
    assert not stop_hit(deal("buying"), 1.0)  # nothing bought yet: nothing to stop
    assert deal("buying").stop_price is None


def test_client_ids_name_the_deal_and_the_order_within_binances_36_characters():
    d = deal(attempt=2)
    assert d.client_id() == "fls-" + d.deal_id.hex[:20] + "-b2"
    assert deal("selling").client_id().endswith("-s")
    assert deal("stopping").client_id().endswith("-x")
    assert all(len(x.client_id()) <= 36 for x in (d, deal("selling"), deal("stopping")))
