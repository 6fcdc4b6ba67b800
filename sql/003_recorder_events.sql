-- What happened to the recorder and to the data: connects, disconnects, gaps, resyncs, backfills,
-- spooling, drops. A hole in the data is a 'gap' row; its repair is a later row with the same ref.
CREATE TABLE recorder_events (
    time        timestamptz NOT NULL,
    event_id    uuid        NOT NULL,  -- written by the recorder, so a replayed spool never duplicates
    kind        text        NOT NULL,  -- connect | disconnect | gap | resync | backfill | spool | drop | ...
    symbol      text,
    market      text,
    stream      text,                  -- the stream or table concerned
    first_id    bigint,                -- for gaps: first missing id (agg_trade_id or depth update id)
    last_id     bigint,                -- for gaps: last missing id
    start_time  timestamptz,           -- for gaps: the time span concerned, when known
    end_time    timestamptz,
    status      text,                  -- for gaps and repairs: open | repaired | partial | unrecoverable
    ref         uuid,                  -- links a repair to its gap
    details     jsonb
);
SELECT create_hypertable('recorder_events', by_range('time', INTERVAL '30 days'), create_default_indexes => false);
CREATE UNIQUE INDEX recorder_events_key ON recorder_events (time DESC, event_id);
CREATE INDEX recorder_events_kind ON recorder_events (kind, time DESC);
