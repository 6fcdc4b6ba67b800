"""Executing signals on Binance USDⓈ-M futures (``EXECUTION=binance``): see executor.py."""
