-- REDUNDANCY=N: each symbol is recorded by N recorders at once, so a lease is (market, symbol,
-- slot) with slots 0..N-1 and no recorder holds two slots of one symbol. Rows keyed by the
-- exchange (trades, diffs, mark prices, liquidations) are written by every holder and dedupe on
-- their natural keys; rows stamped by a recorder's own clock (book_top, depth snapshots, open
-- interest, recorder_events of a symbol) are written by the holder of slot 0 only, the leader.
-- A standby (slot > 0) moves to slot 0 when the leader's lease expires.

ALTER TABLE recorder_leases ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE recorder_leases DROP CONSTRAINT recorder_leases_pkey;
ALTER TABLE recorder_leases ADD PRIMARY KEY (market, symbol, slot);

COMMENT ON COLUMN recorder_leases.slot IS
    'which copy of the symbol this lease records (REDUNDANCY=N: slots 0..N-1, one recorder holds at most one slot of a symbol); the holder of slot 0 is the leader, the only one writing rows stamped by its own clock (book_top, depth snapshots, open interest, the symbol''s recorder_events and gap declarations)';

CREATE VIEW recorder_redundancy AS
SELECT l.market,
       l.symbol,
       max(l.owner) FILTER (WHERE l.slot = 0 AND l.expires_at > now()) AS leader,
       array_agg(l.owner ORDER BY l.slot) FILTER (WHERE l.slot > 0 AND l.expires_at > now())
           AS standbys,
       count(*) FILTER (WHERE l.expires_at > now()) AS live_copies,
       count(*) AS slots
FROM recorder_leases l
GROUP BY l.market, l.symbol;

COMMENT ON VIEW recorder_redundancy IS
    'Who records each symbol with REDUNDANCY=N: its leader (slot 0), its hot standbys (slots above 0) and how many of its slots are held by a live recorder now.';
COMMENT ON COLUMN recorder_redundancy.market IS 'usdm (USD-M futures); the spot side follows the futures symbols of its recorder';
COMMENT ON COLUMN recorder_redundancy.symbol IS 'exchange symbol, e.g. BTCUSDT';
COMMENT ON COLUMN recorder_redundancy.leader IS 'the recorder holding slot 0 (host:pid:start), writing the clock-stamped rows; NULL while slot 0 is free or expired';
COMMENT ON COLUMN recorder_redundancy.standbys IS 'the recorders holding the other slots live, by slot: they store the exchange-keyed rows too and take over as leader when its lease expires';
COMMENT ON COLUMN recorder_redundancy.live_copies IS 'how many recorders hold a live slot of the symbol (REDUNDANCY when all is well)';
COMMENT ON COLUMN recorder_redundancy.slots IS 'the slots offered for the symbol (the largest REDUNDANCY any recorder ran with)';
