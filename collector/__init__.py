"""Binance wire format -> typed rows; stream connections; REST pollers; book sync; gaps."""
