"""Binance USDⓈ-M futures (and spot): stream names and URLs, payload parsing, REST, the book's
sync rule, aggTrade-id holes and their backfill, the top-N ranking."""
