-- Reading more than one venue (issue 19).
--
-- candles_1m and liquidations_1m per venue: a venue column (at the end, so the views keep their
-- columns) is part of their grouping, and candles_1m's open/close find a Bybit minute's first and
-- last trade too: Bybit rows have no agg_trade_id (their ids are UUIDs), so they are ordered by
-- time, then Bybit's cross sequence (extra.seq), then the trade UUID (trades of one taker order
-- share time and sequence) — the order the strategy reads them in (strategy/venue.py). Binance's
-- rows keep first/last by agg_trade_id: their candles do not change. With the community license
-- these two views are continuous aggregates (sql/tsl/), which this file leaves as they are.
--
-- flow_1m_cross, cvd_1m_cross and liquidations_1m_cross: per base asset (BTC for BTCUSDT on any
-- venue) and minute, summed over the venues' perpetual futures.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
               WHERE view_name IN ('candles_1m', 'liquidations_1m')) THEN
        RETURN;
    END IF;
    CREATE OR REPLACE VIEW candles_1m AS
    SELECT time_bucket(INTERVAL '1 minute', time)                                     AS bucket,
           symbol,
           market,
           coalesce(first(price, agg_trade_id),
                    first(price, (time, (extra->>'seq')::bigint, trade_uuid))
                        FILTER (WHERE agg_trade_id IS NULL))                          AS open,
           max(price)                                                                 AS high,
           min(price)                                                                 AS low,
           coalesce(last(price, agg_trade_id),
                    last(price, (time, (extra->>'seq')::bigint, trade_uuid))
                        FILTER (WHERE agg_trade_id IS NULL))                          AS close,
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
           count(*) FILTER (WHERE is_buyer_maker)                                     AS sell_trades,
           venue
    FROM agg_trades
    GROUP BY 1, 2, 3, venue;

    CREATE OR REPLACE VIEW liquidations_1m AS
    SELECT time_bucket(INTERVAL '1 minute', time)                          AS bucket,
           symbol,
           side,
           count(*)                                                        AS orders,
           round(sum(filled_qty)::numeric, 8)::float8                      AS qty,
           round(sum(filled_qty * avg_price)::numeric, 8)::float8          AS notional,
           venue
    FROM force_orders
    GROUP BY 1, 2, 3, venue;

    COMMENT ON VIEW candles_1m IS
        '1-minute candles from agg_trades, per symbol, market and venue. open/close are the first/last trade by agg_trade_id (Binance), by time, sequence and trade UUID (Bybit); sums are rounded to 8 decimals. Sizes in the base asset, prices and quote_volume in the quote asset.';
    COMMENT ON COLUMN candles_1m.open IS
        'price of the minute''s first trade (Binance: lowest agg_trade_id; Bybit: earliest time, then sequence, then trade UUID)';
    COMMENT ON COLUMN candles_1m.close IS
        'price of the minute''s last trade (Binance: highest agg_trade_id; Bybit: latest time, then sequence, then trade UUID)';
    COMMENT ON COLUMN candles_1m.market IS 'usdm or spot (Binance), linear (Bybit)';
    COMMENT ON COLUMN candles_1m.venue IS 'the exchange: binance or bybit';
    COMMENT ON VIEW liquidations_1m IS
        '1-minute liquidation totals from force_orders, per symbol, side and venue (SELL = longs liquidated, BUY = shorts liquidated, on every venue).';
    COMMENT ON COLUMN liquidations_1m.venue IS 'the exchange: binance or bybit';
END
$migration$;

-- The base asset of a futures symbol: the exchange's own (symbols.base_asset) where a recorder
-- described the instrument, else the symbol without its quote asset.
CREATE FUNCTION base_asset_of(symbol text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT s.base_asset FROM symbols s
         WHERE s.symbol = $1 AND s.market <> 'spot' AND s.base_asset IS NOT NULL
         ORDER BY s.market LIMIT 1),
        regexp_replace($1, '(USDT|USDC|BUSD|USD)$', ''))
$$;
COMMENT ON FUNCTION base_asset_of(text) IS
    'The base asset of a futures symbol (BTCUSDT -> BTC): symbols.base_asset when recorded, else the symbol without its quote asset (USDT, USDC, BUSD, USD).';

CREATE VIEW flow_1m_cross AS
WITH per_symbol AS (
    SELECT time_bucket(INTERVAL '1 minute', time)                    AS bucket,
           venue,
           symbol,
           coalesce(sum(qty) FILTER (WHERE NOT is_buyer_maker), 0)   AS buy_qty,
           coalesce(sum(qty) FILTER (WHERE is_buyer_maker), 0)       AS sell_qty,
           sum(price * qty)                                          AS quote_volume,
           count(*)                                                  AS trades
    FROM agg_trades
    WHERE market <> 'spot'
    GROUP BY 1, 2, 3
), per_venue AS (
    SELECT bucket, base_asset_of(symbol) AS base_asset, venue, sum(buy_qty) AS buy_qty,
           sum(sell_qty) AS sell_qty, sum(quote_volume) AS quote_volume, sum(trades) AS trades
    FROM per_symbol
    GROUP BY 1, 2, 3
)
SELECT bucket,
       base_asset,
       array_agg(venue ORDER BY venue)                                            AS venues,
       round(sum(buy_qty)::numeric, 8)::float8                                    AS buy_qty,
       round(sum(sell_qty)::numeric, 8)::float8                                   AS sell_qty,
       round(sum(buy_qty - sell_qty)::numeric, 8)::float8                         AS delta,
       round(sum(quote_volume)::numeric, 8)::float8                               AS quote_volume,
       sum(trades)::bigint                                                        AS trades,
       jsonb_object_agg(venue, round((buy_qty - sell_qty)::numeric, 8)::float8)   AS venue_delta
FROM per_venue
GROUP BY 1, 2;

CREATE VIEW cvd_1m_cross AS
SELECT bucket,
       base_asset,
       time_bucket(INTERVAL '1 day', bucket)                                      AS day,
       venues,
       delta,
       round(sum(delta) OVER (PARTITION BY base_asset, time_bucket(INTERVAL '1 day', bucket)
                              ORDER BY bucket)::numeric, 8)::float8               AS cvd
FROM flow_1m_cross;

CREATE VIEW liquidations_1m_cross AS
WITH per_venue AS (
    SELECT time_bucket(INTERVAL '1 minute', time)                    AS bucket,
           base_asset_of(symbol)                                     AS base_asset,
           side,
           venue,
           count(*)                                                  AS orders,
           sum(filled_qty)                                           AS qty,
           sum(filled_qty * avg_price)                               AS notional
    FROM force_orders
    GROUP BY 1, 2, 3, 4
)
SELECT bucket,
       base_asset,
       side,
       array_agg(venue ORDER BY venue)                                            AS venues,
       sum(orders)::bigint                                                        AS orders,
       round(sum(qty)::numeric, 8)::float8                                        AS qty,
       round(sum(notional)::numeric, 8)::float8                                   AS notional,
       jsonb_object_agg(venue, round(notional::numeric, 8)::float8)               AS venue_notional
FROM per_venue
GROUP BY 1, 2, 3;

COMMENT ON VIEW flow_1m_cross IS
    'Order flow per base asset and minute summed over every venue''s perpetual futures (agg_trades of markets other than spot): aggressive buys and sells, delta, quote volume, trades, and each venue''s delta. Sizes in the base asset, rounded to 8 decimals.';
COMMENT ON COLUMN flow_1m_cross.bucket IS 'start of the minute';
COMMENT ON COLUMN flow_1m_cross.base_asset IS 'the base asset (base_asset_of(symbol): BTC for BTCUSDT)';
COMMENT ON COLUMN flow_1m_cross.venues IS 'the venues with trades in the minute, sorted';
COMMENT ON COLUMN flow_1m_cross.buy_qty IS 'quantity of aggressive buys (is_buyer_maker false) on all venues, base asset';
COMMENT ON COLUMN flow_1m_cross.sell_qty IS 'quantity of aggressive sells (is_buyer_maker true) on all venues, base asset';
COMMENT ON COLUMN flow_1m_cross.delta IS 'buy_qty - sell_qty, base asset';
COMMENT ON COLUMN flow_1m_cross.quote_volume IS 'sum of price * qty on all venues, quote asset (USDT, USDC, ... added as one)';
COMMENT ON COLUMN flow_1m_cross.trades IS 'number of trade rows (Binance: aggregate trades; Bybit: trades)';
COMMENT ON COLUMN flow_1m_cross.venue_delta IS 'each venue''s delta, as JSON: {"binance": 1.5, "bybit": -0.2}';

COMMENT ON VIEW cvd_1m_cross IS
    'Cumulative volume delta per base asset over every venue''s perpetual futures, from the start of each UTC day (as the strategy''s CVD). Filter on day (and base_asset): a filter on bucket alone is applied after the whole history is summed.';
COMMENT ON COLUMN cvd_1m_cross.bucket IS 'start of the minute';
COMMENT ON COLUMN cvd_1m_cross.base_asset IS 'the base asset (BTC for BTCUSDT)';
COMMENT ON COLUMN cvd_1m_cross.day IS 'the UTC day the CVD is summed over';
COMMENT ON COLUMN cvd_1m_cross.venues IS 'the venues with trades in the minute, sorted';
COMMENT ON COLUMN cvd_1m_cross.delta IS 'the minute''s delta on all venues, base asset';
COMMENT ON COLUMN cvd_1m_cross.cvd IS 'sum of delta from the start of the UTC day through this minute, base asset';

COMMENT ON VIEW liquidations_1m_cross IS
    'Liquidations per base asset, side and minute summed over every venue. side is the liquidation order''s on every venue: SELL = longs liquidated, BUY = shorts liquidated.';
COMMENT ON COLUMN liquidations_1m_cross.bucket IS 'start of the minute';
COMMENT ON COLUMN liquidations_1m_cross.base_asset IS 'the base asset (BTC for BTCUSDT)';
COMMENT ON COLUMN liquidations_1m_cross.side IS 'SELL = longs liquidated, BUY = shorts liquidated';
COMMENT ON COLUMN liquidations_1m_cross.venues IS 'the venues with liquidations of this side in the minute, sorted';
COMMENT ON COLUMN liquidations_1m_cross.orders IS 'number of liquidation orders (Binance samples at most one per symbol per second; Bybit sends all)';
COMMENT ON COLUMN liquidations_1m_cross.qty IS 'filled quantity, base asset';
COMMENT ON COLUMN liquidations_1m_cross.notional IS 'filled quantity * average price, quote asset';
COMMENT ON COLUMN liquidations_1m_cross.venue_notional IS 'each venue''s notional, as JSON: {"binance": 1200.5, "bybit": 300}';
