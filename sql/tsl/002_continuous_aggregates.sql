-- Applied only with the community license: the candle views become continuous aggregates with
-- the same names and columns; real-time (materialized_only = false) so the current minute shows.
DROP VIEW candles_1m;
CREATE MATERIALIZED VIEW candles_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', time) AS bucket,
       symbol,
       market,
       first(price, time)                                      AS open,
       max(price)                                              AS high,
       min(price)                                              AS low,
       last(price, time)                                       AS close,
       sum(qty)                                                AS volume,
       coalesce(sum(qty) FILTER (WHERE NOT is_buyer_maker), 0) AS buy_volume,
       coalesce(sum(qty) FILTER (WHERE is_buyer_maker), 0)     AS sell_volume,
       sum(CASE WHEN is_buyer_maker THEN -qty ELSE qty END)    AS delta,
       count(*)                                                AS trades
FROM agg_trades
GROUP BY 1, 2, 3
WITH NO DATA;
SELECT add_continuous_aggregate_policy('candles_1m', start_offset => INTERVAL '3 hours',
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

DROP VIEW liquidations_1m;
CREATE MATERIALIZED VIEW liquidations_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', time) AS bucket,
       symbol,
       side,
       count(*)                        AS orders,
       sum(filled_qty)                 AS qty,
       sum(filled_qty * avg_price)     AS notional
FROM force_orders
GROUP BY 1, 2, 3
WITH NO DATA;
SELECT add_continuous_aggregate_policy('liquidations_1m', start_offset => INTERVAL '3 hours',
       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
