-- Applied only when timescaledb.license = 'timescale' (community). Compress chunks older than
-- two days, one segment per symbol; late duplicates still insert (ON CONFLICT works on compressed
-- chunks since TimescaleDB 2.11).
ALTER TABLE agg_trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, market',
                            timescaledb.compress_orderby = 'time DESC, agg_trade_id');
SELECT add_compression_policy('agg_trades', INTERVAL '2 days');
ALTER TABLE depth_updates SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, market',
                               timescaledb.compress_orderby = 'time DESC, final_update_id');
SELECT add_compression_policy('depth_updates', INTERVAL '1 day');
ALTER TABLE depth_snapshots SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, market');
SELECT add_compression_policy('depth_snapshots', INTERVAL '2 days');
ALTER TABLE book_top SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, market');
SELECT add_compression_policy('book_top', INTERVAL '2 days');
ALTER TABLE mark_prices SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol');
SELECT add_compression_policy('mark_prices', INTERVAL '2 days');
ALTER TABLE force_orders SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol');
SELECT add_compression_policy('force_orders', INTERVAL '14 days');
ALTER TABLE open_interest SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol');
SELECT add_compression_policy('open_interest', INTERVAL '14 days');
