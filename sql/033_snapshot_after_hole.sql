-- A snapshot stored after depth diffs were dropped (the live book stayed whole): replays go on from it.
COMMENT ON COLUMN depth_snapshots.reason IS 'start | resync (after a chain break) | periodic | after_hole (stored after diffs the database never got, so a replay goes on from it; the live book stayed whole)';
