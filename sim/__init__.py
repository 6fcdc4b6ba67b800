"""A local Binance USDⓈ-M futures exchange simulator that speaks Binance's wire protocol."""
