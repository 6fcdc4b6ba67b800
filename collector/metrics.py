"""The recorder's Prometheus metrics (names are what the Grafana dashboard uses)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("flowline_messages_total", "Stream messages received", ["kind"])
ROWS = Counter("flowline_rows_written_total", "Rows inserted", ["table"])
DUPLICATES = Counter("flowline_rows_duplicate_total", "Rows skipped as already stored", ["table"])
SPOOLED = Counter("flowline_rows_spooled_total", "Rows written to the disk spool", ["table"])
DROPPED = Counter("flowline_rows_dropped_total", "Rows lost (spool full)", ["table"])
FLUSH_SECONDS = Histogram(
    "flowline_flush_seconds",
    "Time to COPY and commit one batch",
    ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
COMMIT_LAG = Histogram(
    "flowline_commit_lag_seconds",
    "Exchange event time to database commit (sampled rows)",
    ["table"],
    # 2.5 ms apart up to 50 ms: natural batching commits within a few ms at ordinary rates
    buckets=(
        *(0.001, *(i / 400 for i in range(1, 21))),
        *(0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    ),
)
QUEUE_ROWS = Gauge("flowline_queue_rows", "Rows waiting in memory per table", ["table"])
RECONNECTS = Counter("flowline_reconnects_total", "WebSocket (re)connections", ["connection"])
STALE = Counter(
    "flowline_stale_streams_total", "Connections rebuilt after going silent", ["connection"]
)
RESYNCS = Counter("flowline_book_resyncs_total", "Order book resyncs", ["symbol"])
GAPS = Counter("flowline_gaps_total", "Holes detected in a sequence", ["stream"])
SEQUENCE_ERAS = Counter(
    "flowline_sequence_eras_total",
    "Ids that went backwards or jumped beyond reach: a new sequence started",
    ["stream"],
)
BACKFILLED = Counter("flowline_backfilled_rows_total", "aggTrades recovered from REST")
REST_WEIGHT = Gauge("flowline_rest_weight_used", "Last X-MBX-USED-WEIGHT-1M")
SPOT_REST_WEIGHT = Gauge(
    "flowline_spot_rest_weight_used", "Last X-MBX-USED-WEIGHT-1M of spot (MARKETS=futures,spot)"
)
REST_LIMITED = Counter("flowline_rest_limited_total", "REST answers 429/418", ["status"])
MALFORMED = Counter(
    "flowline_malformed_total", "Frames or payloads that could not be used", ["kind"]
)
LAST_MESSAGE_AGE = Gauge(
    "flowline_stream_last_message_age_seconds", "Seconds since the last message", ["stream"]
)
WRITER_ERRORS = Counter(
    "flowline_writer_errors_total",
    "Unexpected writer errors (logged with a traceback; the writer retries)",
    ["table"],
)
DB_UP = Gauge("flowline_db_up", "1 when the last database write succeeded")
SPOOL_BYTES = Gauge("flowline_spool_bytes", "Bytes waiting in the disk spool")
BOOK_VALID = Gauge(
    "flowline_book_valid", "1 when the local book of a symbol is in sync", ["symbol"]
)
VENUE_CONNECTIONS = Gauge(
    "flowline_venue_connections", "WebSocket connections delivering, per venue", ["venue"]
)
VENUE_BOOKS_VALID = Gauge("flowline_venue_books_valid", "Books in sync, per venue", ["venue"])
VENUE_LAST_MESSAGE_AGE = Gauge(
    "flowline_venue_last_message_age_seconds",
    "Seconds since the last message of the venue's most silent stream",
    ["venue"],
)
