"""Integer ticks/lots ↔ Binance's decimal strings, exactly."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sim.instruments import format_units, instrument_for


def test_known_and_invented_instruments() -> None:
    btc = instrument_for("BTCUSDT")
    assert (btc.tick_size, btc.step_size, btc.price_precision) == ("0.10", "0.001", 2)
    assert btc.price_str(650_001) == "65000.10"
    assert btc.qty_str(1_234) == "1.234"
    other = instrument_for("FOOUSDT")
    assert other.base_asset == "FOO" and other.price_str(other.initial_tick) == "10.000"


@given(st.integers(-(10**12), 10**12), st.integers(0, 8))
def test_format_units_is_exact(units: int, precision: int) -> None:
    text = format_units(units, precision)
    assert Decimal(text) == Decimal(units).scaleb(-precision)
    assert len(text.partition(".")[2]) == precision
