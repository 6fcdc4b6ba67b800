"""Reconciliation decisions against recorded positionRisk, openOrders and openAlgoOrders answers
(payloads/): a position and its stop in order, one found flat, one partly filled, one whose
breakeven stop is missing, one whose entry was never seen."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from strategy.binance.orders import open_ours, position_amounts
from strategy.binance.positions import exit_kind
from strategy.binance.reconcile import Repair, repair
from strategy.binance.store import LivePosition

PAYLOADS = Path(__file__).parent / "payloads"
BTC = uuid.UUID("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9")
ETH = uuid.UUID("1b2c3d4e-5f60-7182-9304-a5b6c7d8e9f0")
SOL = uuid.UUID("2c3d4e5f-6071-8293-0415-a6b7c8d9e0f1")


def exchange() -> tuple[dict[str, float], set[str]]:
    amounts = position_amounts(json.loads((PAYLOADS / "position_risk.json").read_text()))
    ours = open_ours(
        json.loads((PAYLOADS / "open_orders.json").read_text()),
        json.loads((PAYLOADS / "open_algo_orders.json").read_text()),
    )
    return amounts, {cid for _, cid, _ in ours}


def position(signal_id: uuid.UUID, symbol: str, side: str, filled: float, **kw) -> LivePosition:
    stop = kw.pop("stop", 58800.0)
    return LivePosition(signal_id, symbol, side, kw.pop("state", "open"), filled, stop,
                        kw.pop("targets", [60600.0]), filled_qty=filled, **kw)  # fmt: skip


def test_only_our_orders_are_read_from_the_exchange():
    amounts, ids = exchange()
    assert amounts == {"BTCUSDT": 0.006, "ETHUSDT": 0.0, "SOLUSDT": -3.0}
    assert ids == {
        "fl-0a1b2c3d4e5f60718293-sl",
        "fl-0a1b2c3d4e5f60718293-tp1",
        "fl-2c3d4e5f607182930415-tp1",
    }  # not the manual stop, not the web LIMIT order


def test_a_position_with_its_stop_only_takes_the_exchanges_amount():
    amounts, ids = exchange()
    pos = position(BTC, "BTCUSDT", "LONG", 0.010, entry_price=60000.0)
    assert repair(pos, amounts["BTCUSDT"], ids) == Repair("none", 0.006)
    pos.filled_qty = 0.006
    assert repair(pos, amounts["BTCUSDT"], ids) == Repair("none")


def test_a_position_found_flat_is_closed():
    amounts, ids = exchange()
    pos = position(ETH, "ETHUSDT", "LONG", 0.5, stop=2950.0, targets=[3100.0])
    assert repair(pos, amounts["ETHUSDT"], ids).action == "closed"


def test_a_missing_moved_stop_is_placed_again_where_it_was_moved():
    amounts, ids = exchange()
    pos = position(SOL, "SOLUSDT", "SHORT", 3.0, stop=150.25, targets=[148.0, 146.0],
                   entry_price=150.25, breakeven=True, stop_role="breakeven")  # fmt: skip
    # the manual STOP_MARKET on SOLUSDT is not ours: it does not count as our stop
    assert repair(pos, amounts["SOLUSDT"], ids) == Repair("restore_stop", None, "breakeven", 150.25)
    pos.stop_role, pos.stop_price = "move3", 149.5  # trailed three times
    assert repair(pos, amounts["SOLUSDT"], ids) == Repair("restore_stop", None, "move3", 149.5)
    pos.stop_role, pos.stop_price = "stop", 153.0
    assert repair(pos, amounts["SOLUSDT"], ids) == Repair("restore_stop", None, "stop", 153.0)


def test_an_entry_never_seen_is_settled_first():
    amounts, ids = exchange()
    pos = position(BTC, "BTCUSDT", "LONG", 0.0, state="entering")
    assert repair(pos, amounts["BTCUSDT"], ids) == Repair("settle_entry")


def test_an_exit_is_named_as_the_paper_executor_names_it():
    pos = position(SOL, "SOLUSDT", "SHORT", 3.0, stop=153.0, entry_price=150.25)
    assert [exit_kind(pos, r) for r in ("stop", "breakeven", "tp1", "tp2")] == [
        "stop", "breakeven", "target", "target"]  # fmt: skip
    pos.stop_role, pos.stop_price = "move2", 149.0  # trailed past the entry (a SHORT: below it)
    assert exit_kind(pos, "move2") == "trailing"
    pos.stop_price = 151.0  # trailed, but still on the losing side
    assert exit_kind(pos, "move2") == "stop"
