-- candles_1m, corrected and readable:
--  * open and close are the first and last trade by agg_trade_id, not by time: about 44 % of BTC
--    trades share their millisecond with another, and first()/last() over time picked any of them.
--    Within one symbol and market Binance's aggregate ids rise with time, so the id orders the
--    trades exactly as the exchange matched them.
--  * sums are rounded to 8 decimals (Binance quotes no price or size finer than 1e-8) before they
--    go back to double precision, which PostgreSQL prints in its shortest form: 392.763, not
--    392.7629999999997.
--  * new columns at the end: quote volume, VWAP, and the trade counts per aggressor side.
-- With the community license candles_1m is a continuous aggregate (sql/tsl/002, replaced by
-- sql/tsl/003); this file changes only the plain view.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
               WHERE view_name = 'candles_1m') THEN
        RETURN;
    END IF;
    CREATE OR REPLACE VIEW candles_1m AS
    SELECT time_bucket(INTERVAL '1 minute', time)                                     AS bucket,
           symbol,
           market,
           first(price, agg_trade_id)                                                 AS open,
           max(price)                                                                 AS high,
           min(price)                                                                 AS low,
           last(price, agg_trade_id)                                                  AS close,
           round(sum(qty)::numeric, 8)::float8                                        AS volume,
           round(coalesce(sum(qty) FILTER (WHERE NOT is_buyer_maker), 0)::numeric, 8)::float8
                                                                                      AS buy_volume,
           round(coalesce(sum(qty) FILTER (WHERE is_buyer_maker), 0)::numeric, 8)::float8
                                                                                      AS sell_volume,
           round(sum(CASE WHEN is_buyer_maker THEN -qty ELSE qty END)::numeric, 8)::float8
                                                                                      AS delta,
           count(*)                                                                   AS trades,
           round(sum(price * qty)::numeric, 8)::float8                                AS quote_volume,
           round((sum(price * qty) / nullif(sum(qty), 0))::numeric, 8)::float8        AS vwap,
           count(*) FILTER (WHERE NOT is_buyer_maker)                                 AS buy_trades,
           count(*) FILTER (WHERE is_buyer_maker)                                     AS sell_trades
    FROM agg_trades
    GROUP BY 1, 2, 3;
END
$migration$;

-- liquidations_1m: the same rounding (notional was 554739.0269699999).
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
               WHERE view_name = 'liquidations_1m') THEN
        RETURN;
    END IF;
    CREATE OR REPLACE VIEW liquidations_1m AS
    SELECT time_bucket(INTERVAL '1 minute', time)                          AS bucket,
           symbol,
           side,
           count(*)                                                        AS orders,
           round(sum(filled_qty)::numeric, 8)::float8                      AS qty,
           round(sum(filled_qty * avg_price)::numeric, 8)::float8          AS notional
    FROM force_orders
    GROUP BY 1, 2, 3;
END
$migration$;
