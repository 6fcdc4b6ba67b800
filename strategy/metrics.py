"""Prometheus metrics of the strategy worker (all named flowline_strategy_*)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BARS = Counter("flowline_strategy_bars_total", "Bars closed and written", ["symbol"])
SIGNALS = Counter(
    "flowline_strategy_signals_total",
    "Signals by strategy and risk decision",
    ["strategy", "decision"],
)
FILLS = Counter("flowline_strategy_fills_total", "Paper fills by kind", ["kind"])
PROCESSED = Gauge(
    "flowline_strategy_processed_timestamp_seconds", "Every bar before this exchange time is done"
)
BEHIND = Gauge(
    "flowline_strategy_behind_seconds", "Newest settled recorded row minus the processed boundary"
)
LATENCY = Histogram(
    "flowline_strategy_latency_seconds",
    "From the recorder receiving the newest row of a step to the step's commit (signals included)",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10),
)
WEBHOOK = Gauge(
    "flowline_strategy_webhook_deliveries", "Webhook payloads sent, failed or dropped", ["outcome"]
)
TELEGRAM = Gauge(
    "flowline_strategy_telegram_messages", "Telegram messages sent, failed or dropped", ["outcome"]
)
DB_UP = Gauge("flowline_strategy_db_up", "1 when the last step committed")
ANOMALIES = Counter(
    "flowline_strategy_anomalies_total",
    "Data anomaly episodes that paused a symbol's signals (strategy/anomaly.py), by metric",
    ["symbol", "metric"],
)
