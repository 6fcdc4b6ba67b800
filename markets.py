"""The values of the ``market`` column: which of a venue's markets a row was recorded from."""

USDM = "usdm"  # Binance USDⓈ-M futures: the default wherever a market is not named
SPOT = "spot"  # Binance spot (MARKETS=futures,spot)
