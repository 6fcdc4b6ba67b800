"""fill_pnl: one ORDER_TRADE_UPDATE's realized profit and commission (with its asset)."""

from __future__ import annotations

from strategy.binance.pnl import fill_pnl


def update(**fields: str) -> dict[str, str]:
    return {"x": "TRADE", "rp": "-1.25", "n": "0.04", "N": "USDT"} | fields


def test_a_closing_fill_gives_its_realized_profit_and_fee() -> None:
    assert fill_pnl(update()) == (-1.25, 0.04, "USDT")


def test_an_opening_fill_has_only_its_fee() -> None:
    assert fill_pnl(update(rp="0")) == (0.0, 0.04, "USDT")


def test_a_fee_in_another_asset_comes_with_its_asset() -> None:
    assert fill_pnl(update(N="BNB", n="0.0001")) == (-1.25, 0.0001, "BNB")


def test_updates_that_are_not_fills_give_nothing() -> None:
    for execution in ("NEW", "CANCELED", "EXPIRED", "AMENDMENT"):
        assert fill_pnl(update(x=execution)) is None
