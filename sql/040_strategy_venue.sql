-- The strategy worker reads one venue's rows (STRATEGY_VENUE, strategy/venue.py): its signals and
-- positions say which. Rows already stored are Binance's, as the default says. Plain tables: the
-- constant default is a catalog change, instant at any size.
ALTER TABLE signals ADD COLUMN venue text NOT NULL DEFAULT 'binance';
ALTER TABLE positions ADD COLUMN venue text NOT NULL DEFAULT 'binance';

COMMENT ON COLUMN signals.venue IS
    'The exchange whose recorded rows produced the signal: binance or bybit (STRATEGY_VENUE). A signal of another venue than binance has it in its id too, so the same bar on two venues gives two signals.';
COMMENT ON COLUMN positions.venue IS
    'The exchange whose recorded rows the position was opened and is managed on: binance or bybit (the venue of its signal).';
