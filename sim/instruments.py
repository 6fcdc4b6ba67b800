"""Contract specifications of the simulated symbols, and integer ↔ decimal-string formatting.

Prices live as integer ticks and quantities as integer lots everywhere in the simulator; only the
payload builders turn them into the decimal strings Binance sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Instrument:
    """One USDⓈ-M perpetual: the filters a client reads from ``exchangeInfo``."""

    symbol: str
    base_asset: str
    initial_price: str  # where the simulated market opens
    tick_size: str  # PRICE_FILTER.tickSize
    step_size: str  # LOT_SIZE.stepSize
    price_precision: int
    quantity_precision: int
    quote_asset: str = "USDT"
    typical_lots: int = 100  # mean size of a resting order, in lots

    @property
    def tick_units(self) -> int:
        """One tick in units of 10**-price_precision."""
        return int(Decimal(self.tick_size).scaleb(self.price_precision))

    @property
    def step_units(self) -> int:
        return int(Decimal(self.step_size).scaleb(self.quantity_precision))

    @property
    def initial_tick(self) -> int:
        return int(Decimal(self.initial_price) / Decimal(self.tick_size))

    def price_str(self, tick: int) -> str:
        return format_units(tick * self.tick_units, self.price_precision)

    def qty_str(self, lots: int) -> str:
        return format_units(lots * self.step_units, self.quantity_precision)

    def price_float(self, tick: int) -> float:
        return tick * self.tick_units / 10**self.price_precision

    def qty_float(self, lots: int) -> float:
        return lots * self.step_units / 10**self.quantity_precision


def format_units(units: int, precision: int) -> str:
    """``12345, 2`` → ``"123.45"``: exact, no float on the way."""
    if precision == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**precision)
    return f"{sign}{whole}.{frac:0{precision}d}"


def format_float(value: float, decimals: int = 8) -> str:
    """Binance's style for derived values (mark price, funding rate): fixed decimals."""
    return f"{value:.{decimals}f}"


# Real Binance filters for the usual symbols (2026); anything else gets DEFAULT's filters.
KNOWN: dict[str, Instrument] = {
    i.symbol: i
    for i in (
        Instrument("BTCUSDT", "BTC", "65000.00", "0.10", "0.001", 2, 3, typical_lots=150),
        Instrument("ETHUSDT", "ETH", "3200.00", "0.01", "0.001", 2, 3, typical_lots=2000),
        Instrument("BNBUSDT", "BNB", "580.000", "0.010", "0.01", 3, 2, typical_lots=500),
        Instrument("SOLUSDT", "SOL", "150.0000", "0.0100", "1", 4, 0, typical_lots=50),
        Instrument("XRPUSDT", "XRP", "0.6000", "0.0001", "0.1", 4, 1, typical_lots=20000),
    )
}


def instrument_for(symbol: str) -> Instrument:
    """The instrument for ``symbol`` (upper case), inventing plausible filters if unknown."""
    known = KNOWN.get(symbol)
    if known is not None:
        return known
    base = symbol.removesuffix("USDT") or symbol
    return Instrument(symbol, base, "10.000", "0.001", "0.1", 3, 1, typical_lots=500)
