-- The holes and the coverage per venue: Bybit's recorder writes its gaps into recorder_events with
-- venue = 'bybit' (market 'linear'), and the same symbol may be recorded on both venues. The
-- views get a venue column at their end (CREATE OR REPLACE keeps the columns before it, the
-- views that read them and their comments); coverage groups and joins by it too.

CREATE OR REPLACE VIEW data_gaps AS
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
       g.ref,
       g.venue
FROM recorder_events g
LEFT JOIN LATERAL (
    SELECT time, status, details
    FROM recorder_events r
    WHERE r.ref = g.ref AND r.kind <> 'gap'
    ORDER BY time DESC
    LIMIT 1
) r ON true
WHERE g.kind = 'gap';

COMMENT ON COLUMN data_gaps.venue IS 'the exchange whose stream has the hole: binance or bybit';
COMMENT ON COLUMN data_gaps.market IS 'usdm or spot (binance), linear (bybit)';

CREATE OR REPLACE VIEW coverage_holes AS  -- a gap of every market of a venue: its futures market
SELECT coalesce(g.market, CASE g.venue WHEN 'bybit' THEN 'linear' ELSE 'usdm' END) AS market,
       g.symbol,
       g.stream,
       g.first_id,
       g.last_id,
       coalesce(g.start_time, d.before, g.end_time, g.detected_at) AS start_time,
       coalesce(g.end_time, g.resolved_at, g.detected_at)           AS end_time,
       g.status,
       g.status = 'repaired' AS repaired,
       g.detected_at,
       g.resolved_at,
       g.ref,
       g.venue
FROM data_gaps g
LEFT JOIN LATERAL (  -- a depth break knows only the diff after it: start at the last one stored
    SELECT max(u.time) AS before
    FROM depth_updates u
    WHERE g.stream = 'depth_updates' AND g.start_time IS NULL
      AND u.symbol = g.symbol AND u.venue = g.venue
      AND u.market = coalesce(g.market, CASE g.venue WHEN 'bybit' THEN 'linear' ELSE 'usdm' END)
      AND u.time <= coalesce(g.end_time, g.detected_at)
      AND u.time > coalesce(g.end_time, g.detected_at) - INTERVAL '1 day'
      AND u.final_update_id < g.first_id
) d ON true;

COMMENT ON COLUMN coverage_holes.venue IS 'the exchange: binance or bybit';
COMMENT ON COLUMN coverage_holes.market IS 'usdm (USD-M futures) or spot on binance, linear on bybit';

CREATE OR REPLACE VIEW coverage AS
WITH stored AS (
    SELECT market, symbol, 'agg_trades'::text AS stream, time_bucket(INTERVAL '1 day', time) AS day,
           min(time) AS first_event, max(time) AS last_event, count(*) AS events, venue
    FROM agg_trades GROUP BY 1, 2, 4, venue
    UNION ALL
    SELECT market, symbol, 'depth_updates', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*), venue
    FROM depth_updates GROUP BY 1, 2, 4, venue
    UNION ALL
    SELECT market, symbol, 'depth_snapshots', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*), venue
    FROM depth_snapshots GROUP BY 1, 2, 4, venue
    UNION ALL
    SELECT market, symbol, 'book_top', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*), venue
    FROM book_top GROUP BY 1, 2, 4, venue
    UNION ALL  -- the tables without a market column: Binance's are usdm, Bybit's linear
    SELECT CASE venue WHEN 'bybit' THEN 'linear' ELSE 'usdm' END, symbol, 'mark_prices',
           time_bucket(INTERVAL '1 day', time), min(time), max(time), count(*), venue
    FROM mark_prices GROUP BY 2, 4, venue
    UNION ALL
    SELECT CASE venue WHEN 'bybit' THEN 'linear' ELSE 'usdm' END, symbol, 'force_orders',
           time_bucket(INTERVAL '1 day', time), min(time), max(time), count(*), venue
    FROM force_orders GROUP BY 2, 4, venue
    UNION ALL
    SELECT CASE venue WHEN 'bybit' THEN 'linear' ELSE 'usdm' END, symbol, 'open_interest',
           time_bucket(INTERVAL '1 day', time), min(time), max(time), count(*), venue
    FROM open_interest GROUP BY 2, 4, venue
), holes AS (  -- a hole belongs to the day it starts on
    SELECT market, symbol, stream, time_bucket(INTERVAL '1 day', start_time) AS day,
           count(*) AS holes_declared,
           count(*) FILTER (WHERE repaired) AS holes_repaired,
           coalesce(sum(greatest(end_time - start_time, INTERVAL '0'))
                    FILTER (WHERE NOT repaired), INTERVAL '0') AS unrepaired,
           venue
    FROM coverage_holes GROUP BY 1, 2, 3, 4, venue
)
SELECT coalesce(s.market, h.market)       AS market,
       coalesce(s.symbol, h.symbol)       AS symbol,
       coalesce(s.stream, h.stream)       AS stream,
       coalesce(s.day, h.day)             AS day,
       s.first_event,
       s.last_event,
       coalesce(s.events, 0)              AS events,
       coalesce(h.holes_declared, 0)      AS holes_declared,
       coalesce(h.holes_repaired, 0)      AS holes_repaired,
       coalesce(h.unrepaired, INTERVAL '0') AS unrepaired,
       coalesce(s.venue, h.venue)         AS venue
FROM stored s
FULL JOIN holes h
  ON h.market = s.market AND h.symbol = s.symbol AND h.stream = s.stream AND h.day = s.day
 AND h.venue = s.venue;

COMMENT ON COLUMN coverage.venue IS 'the exchange: binance or bybit';
COMMENT ON COLUMN coverage.market IS 'usdm (USD-M futures) or spot on binance, linear on bybit';

-- Bybit's liquidations (allLiquidation) fill force_orders too: the columns only Binance's
-- forceOrder carries get plain values there.
COMMENT ON TABLE force_orders IS
    'Liquidations: Binance forceOrder (at most one per symbol per second: a sample) and Bybit allLiquidation (every one, pushed each 500 ms); venue tells them apart.';
COMMENT ON COLUMN force_orders.order_type IS
    'Binance: the liquidation order''s type (LIMIT); Bybit: always LIMIT (not sent)';
COMMENT ON COLUMN force_orders.time_in_force IS
    'Binance: IOC; Bybit: always IOC (not sent)';
COMMENT ON COLUMN force_orders.status IS
    'Binance: the order status (FILLED, ...); Bybit: always FILLED (it reports executed liquidations)';
COMMENT ON COLUMN force_orders.price IS
    'Binance: the order price; Bybit: the bankruptcy price p';
COMMENT ON COLUMN force_orders.avg_price IS
    'Binance: the average fill price; Bybit: the bankruptcy price p (no average is sent)';
COMMENT ON COLUMN force_orders.orig_qty IS
    'Binance: the order quantity; Bybit: the liquidated size v';
COMMENT ON COLUMN force_orders.last_filled_qty IS
    'Binance: the last fill''s quantity; Bybit: the liquidated size v';
COMMENT ON COLUMN force_orders.filled_qty IS
    'Binance: the accumulated filled quantity; Bybit: the liquidated size v';
COMMENT ON COLUMN force_orders.trade_time IS
    'Binance: the order''s trade time; Bybit: the liquidation time T';
COMMENT ON COLUMN force_orders.time IS
    'the event time: Binance E, Bybit the message ts';
COMMENT ON COLUMN force_orders.side IS
    'the liquidation order''s side on both venues: SELL = a long was liquidated (forced selling), BUY = a short was liquidated (Bybit''s allLiquidation S names the position and is inverted)';

-- The other tables Bybit now fills: say what its rows hold where Binance's names mislead.
COMMENT ON TABLE agg_trades IS
    'Every trade: Binance aggregate trades (<symbol>@aggTrade; holes backfilled from REST /aggTrades, one row per agg_trade_id) and Bybit trades (publicTrade, one row per trade_uuid; after a reconnect REST recent-trade, what it cannot prove is declared in data_gaps). Units: price in the quote asset, qty in the base asset.';
COMMENT ON COLUMN agg_trades.market IS 'usdm (USDⓈ-M futures) or spot on binance; linear (USDT perpetuals) on bybit';
COMMENT ON COLUMN agg_trades.event_time IS 'when the venue sent the event (Binance E, Bybit ts); NULL for rows backfilled from REST';
COMMENT ON COLUMN agg_trades.extra IS 'payload fields without a column, as JSON: Bybit seq, tick_direction, block_trade, rpi; unknown fields instead of being dropped';
COMMENT ON TABLE depth_updates IS
    'Every order-book diff. Levels are absolute: a qty of 0 removes the price level. Binance (<symbol>@depth@<speed>): futures diffs chain by prev_final_update_id = the previous final_update_id. Bybit (orderbook.{50|200} deltas): first_update_id = final_update_id = u, prev_final_update_id = u - 1; u = 1 is a service restart (a new snapshot follows).';
COMMENT ON COLUMN depth_updates.time IS 'event time: Binance E, Bybit ts';
COMMENT ON COLUMN depth_updates.market IS 'usdm or spot (binance), linear (bybit)';
COMMENT ON COLUMN depth_updates.transaction_time IS 'matching-engine time: Binance T (futures only), Bybit cts';
COMMENT ON COLUMN depth_updates.extra IS 'payload fields Flowline does not know yet; Bybit: {seq, depth} too';
COMMENT ON TABLE depth_snapshots IS
    'Full order-book snapshots. Binance: REST /fapi/v1/depth (limit 1000) at start, after every break of the diff chain (resync), and periodically; replaying diffs after last_update_id rebuilds the book. Bybit: every WebSocket snapshot of orderbook.{50|200} (at subscribe, after a reconnect or a broken u chain, and the u = 1 resets), deltas with u > last_update_id chain onto it.';
COMMENT ON COLUMN depth_snapshots.time IS 'Binance: when the recorder received the REST answer; Bybit: the message ts';
COMMENT ON COLUMN depth_snapshots.market IS 'usdm or spot (binance), linear (bybit)';
COMMENT ON COLUMN depth_snapshots.last_update_id IS 'the book as of this update id: Binance lastUpdateId, Bybit u';
COMMENT ON COLUMN depth_snapshots.transaction_time IS 'matching-engine time: Binance T (futures), Bybit cts';
COMMENT ON COLUMN depth_snapshots.extra IS 'answer fields Flowline does not know yet; Bybit: {seq, depth} too';
COMMENT ON TABLE mark_prices IS
    'Mark price, index price and funding. Binance: !markPrice@arr@1s, one row per symbol per second. Bybit: the tickers state, a row whenever mark price, index price or funding rate changed.';
COMMENT ON COLUMN mark_prices.time IS 'event time: Binance E, Bybit ts';
COMMENT ON TABLE open_interest IS
    'Open interest. Binance: polled from REST /fapi/v1/openInterest every OI_POLL_INTERVAL. Bybit: the tickers stream''s openInterest, a row whenever it changed.';
COMMENT ON COLUMN open_interest.time IS 'Binance: the exchange time of the answer; Bybit: the tickers message ts';

-- Bybit's instruments (instruments-info, category linear) are stored beside Binance's.
COMMENT ON COLUMN symbols.market IS 'usdm (USDⓈ-M futures) or spot on Binance; linear (USDT perpetuals) on Bybit';
COMMENT ON COLUMN symbols.status IS 'the venue''s status: Binance exchangeInfo TRADING, SETTLING, BREAK, ...; Bybit instruments-info Trading, PreLaunch, Delivering, Closed';
