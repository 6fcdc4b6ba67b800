-- Venues whose trade ids are not a sequence: Bybit's are UUIDs. Their trades go into agg_trades
-- like Binance's (so candles, delta and CVD read every venue from one table) with the id in
-- trade_uuid and agg_trade_id, first_trade_id and last_trade_id left NULL. A Binance row always
-- has the three ids, a Bybit row always trade_uuid. The UUID key is a partial index: the rows
-- already stored have no UUID, so it builds at once on a populated database.
ALTER TABLE agg_trades ADD COLUMN trade_uuid uuid;
ALTER TABLE agg_trades ALTER COLUMN agg_trade_id DROP NOT NULL;
ALTER TABLE agg_trades ALTER COLUMN first_trade_id DROP NOT NULL;
ALTER TABLE agg_trades ALTER COLUMN last_trade_id DROP NOT NULL;
CREATE UNIQUE INDEX agg_trades_uuid_key ON agg_trades (symbol, time DESC, trade_uuid, market, venue)
    WHERE trade_uuid IS NOT NULL;

COMMENT ON COLUMN agg_trades.trade_uuid IS
    'the trade id on venues whose ids are UUIDs (Bybit: publicTrade i, REST execId); NULL on Binance, whose ids are agg_trade_id';
COMMENT ON COLUMN agg_trades.agg_trade_id IS
    'Binance aggregate trade id (a), consecutive per symbol and market: holes are detected on it; NULL on venues with UUID trade ids (see trade_uuid)';
COMMENT ON COLUMN agg_trades.first_trade_id IS
    'first trade id inside this aggregate trade (f); NULL on venues with UUID trade ids';
COMMENT ON COLUMN agg_trades.last_trade_id IS
    'last trade id inside this aggregate trade (l); NULL on venues with UUID trade ids';
