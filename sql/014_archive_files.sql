-- The archive tier's catalog: one row per Parquet file under ARCHIVE_DIR (db/archive.py).
-- A row is written, in the same transaction that drops the chunk, only after its file has been
-- read back and verified; so for (table_name, market, symbol) the time range
-- [range_start, range_end) is read from the file, never from the hypertable (rows brought back
-- by `archive restore` are a copy for psql, and the next `archive run` folds them back).
CREATE TABLE archive_files (
    path         text        PRIMARY KEY,
    table_name   text        NOT NULL,
    market       text        NOT NULL,
    symbol       text        NOT NULL,
    day          date        NOT NULL,
    range_start  timestamptz NOT NULL,
    range_end    timestamptz NOT NULL,
    rows         bigint      NOT NULL,
    bytes        bigint      NOT NULL,
    min_time     timestamptz NOT NULL,
    max_time     timestamptz NOT NULL,
    checksum     bigint      NOT NULL,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX archive_files_range ON archive_files (table_name, symbol, range_start);

COMMENT ON TABLE archive_files IS
    'Parquet files of the archive tier (ARCHIVE_DIR): each holds every row of one table, market and symbol with range_start <= time < range_end, taken from a hypertable chunk that was then dropped';
COMMENT ON COLUMN archive_files.path IS 'absolute path of the Parquet file (zstd), Hive-style: table=/market=/symbol=/day=/part-HHMMSS.parquet';
COMMENT ON COLUMN archive_files.table_name IS 'the hypertable the rows came from (agg_trades, depth_updates, ...)';
COMMENT ON COLUMN archive_files.market IS 'usdm or spot; usdm for the futures-only tables without a market column';
COMMENT ON COLUMN archive_files.symbol IS 'the symbol of every row in the file';
COMMENT ON COLUMN archive_files.day IS 'the UTC day of every row in the file (its day= partition)';
COMMENT ON COLUMN archive_files.range_start IS 'start of the time range the file stands for: the chunk''s range clipped to the day (inclusive)';
COMMENT ON COLUMN archive_files.range_end IS 'end of that range (exclusive)';
COMMENT ON COLUMN archive_files.rows IS 'rows in the file, verified against the chunk before it was dropped';
COMMENT ON COLUMN archive_files.bytes IS 'size of the file on disk';
COMMENT ON COLUMN archive_files.min_time IS 'the earliest time of a row in the file';
COMMENT ON COLUMN archive_files.max_time IS 'the latest time of a row in the file';
COMMENT ON COLUMN archive_files.checksum IS 'sum over the rows of a 64-bit hash of the natural key (time and the key columns after it), as a signed bigint; equal in the chunk and in the file read back';
COMMENT ON COLUMN archive_files.created IS 'when the file was verified and catalogued';
