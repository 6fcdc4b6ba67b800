-- Recorders sharing one universe (LEASES=on, or RECORDER_PROCESSES > 1): each symbol of a
-- market is a lease row owned by one recorder until its expires_at. A recorder renews what it
-- owns every LEASE_TIMEOUT/3 seconds; one that stops renewing loses its symbols when they expire
-- and the others take them over with a plain UPDATE ... WHERE expires_at < now(): PostgreSQL's
-- row locks decide who wins, there is no other coordinator. recorder_members lists the live
-- recorders, so each can compute its fair share and give up symbols above it.

CREATE TABLE recorder_leases (
    market          text        NOT NULL,
    symbol          text        NOT NULL,
    owner           text,
    acquired_at     timestamptz,
    heartbeat_at    timestamptz,
    expires_at      timestamptz NOT NULL DEFAULT '-infinity',
    watermark       timestamptz,
    previous_owner  text,
    takeover_floor  timestamptz,
    PRIMARY KEY (market, symbol)
);

COMMENT ON TABLE recorder_leases IS
    'Which recorder records which symbol when recorders share the work (LEASES=on): one row per market and symbol, renewed by its owner''s heartbeat; an expired row is free for any recorder to take.';
COMMENT ON COLUMN recorder_leases.market IS 'usdm (USD-M futures); the spot side follows the futures symbols of its recorder';
COMMENT ON COLUMN recorder_leases.symbol IS 'exchange symbol, e.g. BTCUSDT';
COMMENT ON COLUMN recorder_leases.owner IS 'the recorder holding the lease, as host:pid:start (start in Unix seconds, to the millisecond); NULL when released';
COMMENT ON COLUMN recorder_leases.acquired_at IS 'when the current owner took the lease';
COMMENT ON COLUMN recorder_leases.heartbeat_at IS 'the owner''s last renewal';
COMMENT ON COLUMN recorder_leases.expires_at IS 'after this the lease is free: the owner stopped renewing (died, hung or lost the database) or released it';
COMMENT ON COLUMN recorder_leases.watermark IS 'the owner''s commit watermark at its last renewal: rows it received before this are committed (the strategy worker waits at it for an owner that went silent)';
COMMENT ON COLUMN recorder_leases.previous_owner IS 'the recorder the lease was taken from (expired or released), until the new owner has committed the repair of what was missed in between';
COMMENT ON COLUMN recorder_leases.takeover_floor IS 'the previous owner''s watermark when the lease changed hands; the strategy worker does not pass it until the new owner clears it (holes repaired and committed)';

CREATE TABLE recorder_members (
    owner         text        PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    symbols       integer     NOT NULL DEFAULT 0
);

COMMENT ON TABLE recorder_members IS
    'Recorders sharing the work (LEASES=on), one row each, renewed with their leases: the live ones (expires_at in the future) split the symbols evenly.';
COMMENT ON COLUMN recorder_members.owner IS 'the recorder, as host:pid:start (start in Unix seconds, to the millisecond)';
COMMENT ON COLUMN recorder_members.started_at IS 'when the recorder started';
COMMENT ON COLUMN recorder_members.heartbeat_at IS 'its last renewal';
COMMENT ON COLUMN recorder_members.expires_at IS 'after this the recorder counts as gone';
COMMENT ON COLUMN recorder_members.symbols IS 'how many symbols it held at its last renewal';
