"""Fill handling on a recorded user-data sequence: a LONG entered, stopped out by its algo stop
whose triggered order carries an exchange-made client id (payloads/long_stopped_out.json)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from strategy.binance.events import (
    AccountUpdate,
    AlgoUpdate,
    OrderIds,
    OrderUpdate,
    credit,
    is_final,
    parse_event,
)
from strategy.binance.store import LivePosition

PAYLOADS = Path(__file__).parent / "payloads"
SIGNAL = uuid.UUID("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9")  # key 0a1b2c3d4e5f60718293


def recorded(name: str) -> list[dict]:
    return json.loads((PAYLOADS / name).read_text())


def long_position() -> LivePosition:
    return LivePosition(SIGNAL, "BTCUSDT", "LONG", "open", 0.010, 58800.0, [60600.0],
                        entry_price=60000.0, filled_qty=0.010)  # fmt: skip


def replay(events: list[dict]) -> tuple[LivePosition, list[tuple[str, str, bool]], list]:
    """Feed the events as the executor does: route, credit fills, note final exits and flats."""
    pos, ids, exits, accounts = long_position(), OrderIds(), [], []
    for raw in events:
        event = parse_event(raw)
        if isinstance(event, AccountUpdate):
            accounts.append(event)
            continue
        assert event is not None
        route = ids.route(event)
        assert route is not None and route.key == "0a1b2c3d4e5f60718293"
        if isinstance(event, OrderUpdate) and event.is_fill:
            credit(pos, route.role, event, event.commission)
        if is_final(event):
            exits.append((route.role, type(event).__name__, route.own))
    return pos, exits, accounts


def test_stopped_out_long_books_the_exchanges_realized_pnl_and_fees():
    pos, _, _ = replay(recorded("long_stopped_out.json"))
    # rp of the two closing fills: (58795 − 60000)·0.004 + (58790 − 60000)·0.006
    assert pos.realized_pnl == pytest.approx(-12.08, abs=1e-9)
    # 4 bps of each fill: 0.24 entry + 0.094072 + 0.141096
    assert pos.fees == pytest.approx(0.475168, abs=1e-9)
    assert pos.net_pnl == pytest.approx(-12.555168, abs=1e-9)
    assert pos.exited_qty == pytest.approx(0.010, abs=1e-12) and pos.exited


def test_the_triggered_orders_fills_are_tied_to_the_stop_that_became_it():
    _, exits, _ = replay(recorded("long_stopped_out.json"))
    # the entry fill, then the triggered order's own FILLED (not ours by id: routed through
    # the stop's ALGO_UPDATE `ai`), then the stop's FINISHED
    assert exits == [
        ("entry", "OrderUpdate", True),
        ("stop", "OrderUpdate", False),
        ("stop", "AlgoUpdate", True),
    ]


def test_account_updates_carry_the_wallet_and_the_flat_symbol():
    _, _, accounts = replay(recorded("long_stopped_out.json"))
    assert [a.flat for a in accounts] == [(), ("BTCUSDT",)]
    assert accounts[-1].balances == {"USDT": pytest.approx(9987.444832, abs=1e-9)}
    assert accounts[-1].balances["USDT"] == pytest.approx(10_000 - 12.555168, abs=1e-9)


def test_an_unknown_order_id_is_not_ours():
    events = recorded("long_stopped_out.json")
    triggered_fill = parse_event(events[9])
    assert isinstance(triggered_fill, OrderUpdate)
    assert OrderIds().route(triggered_fill) is None  # without the ALGO_UPDATE that names it


def test_parsed_records_keep_the_fields_we_act_on():
    events = recorded("long_stopped_out.json")
    entry, triggered = parse_event(events[1]), parse_event(events[6])
    assert entry == OrderUpdate("BTCUSDT", "fl-0a1b2c3d4e5f60718293-e", 8886774, "TRADE",
                                "FILLED", 0.010, 0.010, 60000.0, 0.0, 0.24, "USDT")  # fmt: skip
    assert triggered == AlgoUpdate(
        "BTCUSDT", "fl-0a1b2c3d4e5f60718293-sl", 3000000001, "TRIGGERED", 8886801, 1796000061000
    )
    assert parse_event({"e": "MARGIN_CALL", "E": 1}) is None


def test_a_malformed_update_raises_for_the_caller_to_count():
    broken = recorded("long_stopped_out.json")[1]
    del broken["o"]["i"]
    with pytest.raises(KeyError):
        parse_event(broken)
