-- TimescaleDB is required: hypertables, time_bucket, first/last and drop_chunks are all in its
-- Apache-licensed part, so Debian's build is enough. Community (TSL) features are added by sql/tsl/.
CREATE EXTENSION IF NOT EXISTS timescaledb;
