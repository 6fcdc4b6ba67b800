"""Symbol filters over a real exchangeInfo symbol entry (BTCUSDT's filters)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from strategy.binance.filters import FilterRejected, parse_exchange_info, plan
from strategy.signals import Quality, Side, Signal

BTC_INFO = {
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764",
                 "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000",
                 "stepSize": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120",
                 "stepSize": "0.001"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
            ],
        }
    ]
}  # fmt: skip
FILTERS = parse_exchange_info(BTC_INFO)["BTCUSDT"]


def signal(side: Side, entry: float, stop: float, *targets: float) -> Signal:
    return Signal(0, "BTCUSDT", "t", side, entry, stop, targets, Quality.HIGH, 1.0)


def test_parsed_filters() -> None:
    assert FILTERS.tick == Decimal("0.10") and FILTERS.step == Decimal("0.001")
    assert FILTERS.market_max_qty == Decimal(120) and FILTERS.min_notional == Decimal(100)


def test_prices_round_to_tick_and_quantity_down_to_step() -> None:
    result = plan(signal(Side.LONG, 65000.04, 64000.06, 66000.15), 0.0159, FILTERS, market=True)
    assert result.entry == Decimal("65000.0") and result.stop == Decimal("64000.1")
    assert result.qty == Decimal("0.015") and result.targets == ((Decimal("66000.2"), result.qty),)
    assert any("rounded down" in note for note in result.adjustments)


def test_two_targets_split_half_each_or_merge_when_too_small() -> None:
    two = plan(signal(Side.SHORT, 65000, 66000, 64000, 63000), 0.005, FILTERS, market=True)
    assert [q for _, q in two.targets] == [Decimal("0.002"), Decimal("0.003")]
    no_min = dataclasses.replace(FILTERS, min_notional=Decimal(0))
    one = plan(signal(Side.SHORT, 65000, 66000, 64000, 63000), 0.0019, no_min, market=True)
    assert one.targets == ((Decimal("64000.0"), Decimal("0.001")),)
    assert any("too small to split" in note for note in one.adjustments)


def test_market_quantity_capped_by_market_lot_size() -> None:
    result = plan(signal(Side.LONG, 65000, 64000, 66000), 500.0, FILTERS, market=True)
    assert result.qty == Decimal(120)
    assert plan(signal(Side.LONG, 65000, 64000, 66000), 500.0, FILTERS, market=False).qty == 500


@pytest.mark.parametrize(
    ("sig", "qty", "reason"),
    [
        (signal(Side.LONG, 65000, 64000, 66000), 0.0009, "below minQty"),
        (signal(Side.LONG, 65000, 64000, 66000), 0.001, "below MIN_NOTIONAL 100"),
        (signal(Side.LONG, 65000, 66000, 67000), 0.01, "losing side"),
        (signal(Side.SHORT, 65000, 66000, 65500), 0.01, "winning side"),
    ],
)
def test_untradeable_signals_are_rejected_with_a_reason(
    sig: Signal, qty: float, reason: str
) -> None:
    with pytest.raises(FilterRejected, match=reason):
        plan(sig, qty, FILTERS, market=True)
