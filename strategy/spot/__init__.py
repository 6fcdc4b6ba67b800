"""The MACD trader's deals on Binance spot (``EXECUTION=binance-spot``): see executor.py."""
