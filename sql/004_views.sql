-- Views for people in psql. With the community (TSL) license sql/tsl/ replaces candles_1m and
-- liquidations_1m by continuous aggregates of the same name and columns.

CREATE VIEW candles_1m AS
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
GROUP BY 1, 2, 3;

CREATE VIEW liquidations_1m AS
SELECT time_bucket(INTERVAL '1 minute', time) AS bucket,
       symbol,
       side,
       count(*)                        AS orders,
       sum(filled_qty)                 AS qty,
       sum(filled_qty * avg_price)     AS notional
FROM force_orders
GROUP BY 1, 2, 3;

-- "Where are the holes in my data, and which were repaired?"
CREATE VIEW data_gaps AS
SELECT g.time        AS detected_at,
       g.symbol,
       g.market,
       g.stream,
       g.first_id,
       g.last_id,
       g.start_time,
       g.end_time,
       coalesce(r.status, g.status, 'open') AS status,
       r.time        AS resolved_at,
       coalesce(g.details, '{}'::jsonb) || coalesce(r.details, '{}'::jsonb) AS details,
       g.ref
FROM recorder_events g
LEFT JOIN LATERAL (
    SELECT time, status, details
    FROM recorder_events r
    WHERE r.ref = g.ref AND r.kind <> 'gap'
    ORDER BY time DESC
    LIMIT 1
) r ON true
WHERE g.kind = 'gap';
