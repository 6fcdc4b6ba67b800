-- Every hypertable says which venue (exchange) a row comes from, and every natural key carries it,
-- so the same symbol recorded on two venues (BTCUSDT on Binance and on Bybit) never collides.
-- Rows already stored are Binance's: the column's default says so.
--
-- Cost on a populated database: ADD COLUMN with a constant default is a catalog change (no table
-- rewrite, instant at any size); each unique index is rebuilt, which reads every row once
-- (bench/venue_migration.py measures it per million rows). The whole file is one transaction that
-- holds each table's lock while its index is built: a running recorder waits (its writes spool)
-- and goes on when the migration commits. Writers use ON CONFLICT DO NOTHING without naming the
-- index, so they need no change.

ALTER TABLE agg_trades ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX agg_trades_key;
CREATE UNIQUE INDEX agg_trades_key ON agg_trades (symbol, time DESC, agg_trade_id, market, venue);

ALTER TABLE depth_updates ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX depth_updates_key;
CREATE UNIQUE INDEX depth_updates_key
    ON depth_updates (symbol, time DESC, final_update_id, market, venue);

ALTER TABLE depth_snapshots ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX depth_snapshots_key;
CREATE UNIQUE INDEX depth_snapshots_key
    ON depth_snapshots (symbol, time DESC, last_update_id, market, venue);

ALTER TABLE book_top ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX book_top_key;
CREATE UNIQUE INDEX book_top_key ON book_top (symbol, time DESC, market, venue);

ALTER TABLE mark_prices ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX mark_prices_key;
CREATE UNIQUE INDEX mark_prices_key ON mark_prices (symbol, time DESC, venue);

ALTER TABLE force_orders ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX force_orders_key;
CREATE UNIQUE INDEX force_orders_key
    ON force_orders (symbol, time DESC, trade_time, side, price, filled_qty, venue);

ALTER TABLE open_interest ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX open_interest_key;
CREATE UNIQUE INDEX open_interest_key ON open_interest (symbol, time DESC, venue);

ALTER TABLE recorder_events ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX recorder_events_key;
CREATE UNIQUE INDEX recorder_events_key ON recorder_events (time DESC, event_id, venue);

ALTER TABLE indicators ADD COLUMN venue text NOT NULL DEFAULT 'binance';
DROP INDEX indicators_key;
CREATE UNIQUE INDEX indicators_key ON indicators (symbol, time DESC, bar_ms, venue);

COMMENT ON COLUMN agg_trades.venue IS
    'The exchange the trade happened on: binance or bybit. Part of the natural key.';
COMMENT ON COLUMN depth_updates.venue IS
    'The exchange of the order book: binance or bybit. Part of the natural key.';
COMMENT ON COLUMN depth_snapshots.venue IS
    'The exchange of the order book: binance or bybit. Part of the natural key.';
COMMENT ON COLUMN book_top.venue IS
    'The exchange of the order book: binance or bybit. Part of the natural key.';
COMMENT ON COLUMN mark_prices.venue IS
    'The exchange that published the mark price: binance or bybit. Part of the natural key.';
COMMENT ON COLUMN force_orders.venue IS
    'The exchange of the liquidation: binance or bybit. side means the same on both: the '
    'liquidation order''s side, SELL = a long was liquidated. Part of the natural key.';
COMMENT ON COLUMN open_interest.venue IS
    'The exchange of the open interest: binance or bybit. Part of the natural key.';
COMMENT ON COLUMN recorder_events.venue IS
    'The exchange whose stream or REST answer the event concerns: binance or bybit.';
COMMENT ON COLUMN indicators.venue IS
    'The exchange whose rows the indicators were computed from: binance or bybit.';
