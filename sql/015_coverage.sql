-- "Can I trust this day?": what is stored and which holes are left, per market, symbol, stream
-- and UTC day. coverage_holes lists every declared hole with the time span its missing rows
-- cover; coverage sums stored rows and holes per day. Plain views: they read the hypertables and
-- recorder_events as they are (filter by symbol and day to keep them quick).

CREATE VIEW coverage_holes AS
SELECT coalesce(g.market, 'usdm') AS market,
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
       g.ref
FROM data_gaps g
LEFT JOIN LATERAL (  -- a depth break knows only the diff after it: start at the last one stored
    SELECT max(u.time) AS before
    FROM depth_updates u
    WHERE g.stream = 'depth_updates' AND g.start_time IS NULL
      AND u.symbol = g.symbol AND u.market = coalesce(g.market, 'usdm')
      AND u.time <= coalesce(g.end_time, g.detected_at)
      AND u.time > coalesce(g.end_time, g.detected_at) - INTERVAL '1 day'
      AND u.final_update_id < g.first_id
) d ON true;

COMMENT ON VIEW coverage_holes IS
    'Every hole declared in data_gaps with the time span its missing rows cover, and whether the rows are back.';
COMMENT ON COLUMN coverage_holes.market IS 'usdm (USD-M futures) or spot';
COMMENT ON COLUMN coverage_holes.symbol IS 'symbol; NULL for a hole of every symbol of the stream (e.g. rows a full spool dropped)';
COMMENT ON COLUMN coverage_holes.stream IS 'table the rows are missing from: agg_trades, depth_updates, mark_prices, ...';
COMMENT ON COLUMN coverage_holes.first_id IS 'first missing id (agg_trade_id or depth update id); NULL for time-only holes';
COMMENT ON COLUMN coverage_holes.last_id IS 'last missing id';
COMMENT ON COLUMN coverage_holes.start_time IS 'start of the span the missing rows lie in (for a depth break: the last diff stored before it)';
COMMENT ON COLUMN coverage_holes.end_time IS 'end of that span (for a depth break: the first diff after it)';
COMMENT ON COLUMN coverage_holes.status IS 'open, repaired, partial, unrecoverable, resynced (depth: the book was rebuilt from a snapshot, the diffs stay missing)';
COMMENT ON COLUMN coverage_holes.repaired IS 'true when every missing row was fetched again and stored (status repaired)';
COMMENT ON COLUMN coverage_holes.detected_at IS 'when the recorder declared the hole';
COMMENT ON COLUMN coverage_holes.resolved_at IS 'when it was last resolved (backfill or resync), NULL while open';
COMMENT ON COLUMN coverage_holes.ref IS 'the id joining the hole''s recorder_events rows';

CREATE VIEW coverage AS
WITH stored AS (
    SELECT market, symbol, 'agg_trades'::text AS stream, time_bucket(INTERVAL '1 day', time) AS day,
           min(time) AS first_event, max(time) AS last_event, count(*) AS events
    FROM agg_trades GROUP BY 1, 2, 4
    UNION ALL
    SELECT market, symbol, 'depth_updates', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*)
    FROM depth_updates GROUP BY 1, 2, 4
    UNION ALL
    SELECT market, symbol, 'depth_snapshots', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*)
    FROM depth_snapshots GROUP BY 1, 2, 4
    UNION ALL
    SELECT market, symbol, 'book_top', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*)
    FROM book_top GROUP BY 1, 2, 4
    UNION ALL
    SELECT 'usdm', symbol, 'mark_prices', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*)
    FROM mark_prices GROUP BY 2, 4
    UNION ALL
    SELECT 'usdm', symbol, 'force_orders', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*)
    FROM force_orders GROUP BY 2, 4
    UNION ALL
    SELECT 'usdm', symbol, 'open_interest', time_bucket(INTERVAL '1 day', time),
           min(time), max(time), count(*)
    FROM open_interest GROUP BY 2, 4
), holes AS (  -- a hole belongs to the day it starts on
    SELECT market, symbol, stream, time_bucket(INTERVAL '1 day', start_time) AS day,
           count(*) AS holes_declared,
           count(*) FILTER (WHERE repaired) AS holes_repaired,
           coalesce(sum(greatest(end_time - start_time, INTERVAL '0'))
                    FILTER (WHERE NOT repaired), INTERVAL '0') AS unrepaired
    FROM coverage_holes GROUP BY 1, 2, 3, 4
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
       coalesce(h.unrepaired, INTERVAL '0') AS unrepaired
FROM stored s
FULL JOIN holes h
  ON h.market = s.market AND h.symbol = s.symbol AND h.stream = s.stream AND h.day = s.day;

COMMENT ON VIEW coverage IS
    'Per market, symbol, stream and UTC day: what is stored and which declared holes are left (ask it before a backtest).';
COMMENT ON COLUMN coverage.market IS 'usdm (USD-M futures) or spot';
COMMENT ON COLUMN coverage.symbol IS 'symbol; NULL for holes of every symbol of a stream';
COMMENT ON COLUMN coverage.stream IS 'the table: agg_trades, depth_updates, depth_snapshots, book_top, mark_prices, force_orders, open_interest';
COMMENT ON COLUMN coverage.day IS 'UTC day (midnight); a hole counts on the day it starts';
COMMENT ON COLUMN coverage.first_event IS 'time of the first row stored that day';
COMMENT ON COLUMN coverage.last_event IS 'time of the last row stored that day';
COMMENT ON COLUMN coverage.events IS 'rows stored that day';
COMMENT ON COLUMN coverage.holes_declared IS 'holes declared in data_gaps starting that day';
COMMENT ON COLUMN coverage.holes_repaired IS 'of those, holes whose every missing row was fetched again and stored';
COMMENT ON COLUMN coverage.unrepaired IS 'total time spanned by the holes not repaired (0 when every hole is back)';
