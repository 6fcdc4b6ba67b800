-- Community license: the continuous aggregates rebuilt with sql/013's definitions (open/close by
-- agg_trade_id, sums rounded to 8 decimals, quote volume, VWAP, trades per side). The
-- materialization is recomputed from agg_trades / force_orders by the refresh policy.
DROP MATERIALIZED VIEW candles_1m;
CREATE MATERIALIZED VIEW candles_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
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
GROUP BY 1, 2, 3
WITH NO DATA;
SELECT add_continuous_aggregate_policy('candles_1m', start_offset => NULL,
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

DROP MATERIALIZED VIEW liquidations_1m;
CREATE MATERIALIZED VIEW liquidations_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', time)                          AS bucket,
       symbol,
       side,
       count(*)                                                        AS orders,
       round(sum(filled_qty)::numeric, 8)::float8                      AS qty,
       round(sum(filled_qty * avg_price)::numeric, 8)::float8          AS notional
FROM force_orders
GROUP BY 1, 2, 3
WITH NO DATA;
SELECT add_continuous_aggregate_policy('liquidations_1m', start_offset => NULL,
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
