"""The environment variables each command of ``main.py`` reads, for its ``--help``.

``.env.example`` documents every variable at length; this is the one-line version per command
(a test checks that each variable of ``.env.example`` shows in some command's help).
"""

from __future__ import annotations

VARIABLES = {
    # database
    "DATABASE_URL": "postgresql://user:password@host:5432/db (unset: the embedded database)",
    "FLOWLINE_DB_PORT": "port of the embedded database (default 54329)",
    "RETENTION": "per-table retention, e.g. depth_updates=7d,book_top=30d (unset: keep all)",
    "ARCHIVE_AFTER": "move chunks older than this to Parquet, e.g. 7d (unset: off)",
    "ARCHIVE_DIR": "where the Parquet archive lives (default ./var/archive)",
    "GRAFANA_DB_PASSWORD": "db init: lets Grafana's read-only role flowline_grafana log in",
    # Binance market data
    "BINANCE_WS_URL": "futures WebSocket base (default wss://fstream.binance.com)",
    "BINANCE_REST_URL": "futures REST base (default https://fapi.binance.com)",
    "SYMBOLS": "BTCUSDT,ETHUSDT (default) or top:N by 24 h quote volume",
    "UNIVERSE_REFRESH": "seconds between re-evaluations of top:N (default 3600)",
    "MARKETS": "futures (default) or futures,spot",
    "VENUES": "binance (default), bybit, or binance,bybit: the exchanges recorded",
    "BYBIT_WS_URL": "Bybit v5 public linear WebSocket (VENUES=...,bybit)",
    "BYBIT_REST_URL": "Bybit v5 REST base (recent trades after a reconnect, top:N)",
    "BYBIT_SYMBOLS": "Bybit symbols, or top:N by 24 h turnover (default: as SYMBOLS)",
    "BYBIT_DEPTH": "Bybit orderbook depth: 50 (default) or 200",
    "BINANCE_SPOT_WS_URL": "spot WebSocket base (MARKETS=futures,spot)",
    "BINANCE_SPOT_REST_URL": "spot REST base (MARKETS=futures,spot)",
    "SPOT_DEPTH_SPEED": "spot diff depth: 100ms (default) or 1000ms",
    "DEPTH_SPEED": "futures diff depth: 100ms (default), 250ms or 500ms",
    "OI_POLL_INTERVAL": "seconds between open-interest polls per symbol (default 10)",
    "DEPTH_SNAPSHOT_INTERVAL": "seconds between periodic REST depth snapshots (default 3600)",
    "BOOK_TOP_INTERVAL": "seconds between book_top rows per symbol (default 1)",
    "BOOK_TOP_LEVELS": "levels per side in book_top (default 20)",
    "CONNECTION_MAX_AGE": "seconds before a connection is replaced (default 82800)",
    "STREAM_SILENT_AFTER": "seconds without a frame before a reconnect (default 30)",
    "GAP_HOLD_MAX": "seconds the commit watermark waits for a hole to fill (default 60)",
    # sharing
    "LEASES": "on: share the symbols with other recorders via leases in the database (default off)",
    "LEASE_TIMEOUT": "seconds a silent recorder keeps its symbols before others take them (15)",
    "RECORDER_PROCESSES": "recorder processes sharing the symbols on this host (default 1)",
    "LEASE_MEMBERS": "recorders expected to share: at start take only that share (default 1)",
    "REDUNDANCY": "recorders recording each symbol at once, 1-3 (default 1; >1 implies LEASES)",
    # writing
    "BATCH_MAX_ROWS": "flush a table's batch at this many rows (default 5000)",
    "BATCH_MAX_MS": "... or when its oldest row is this old (default 100)",
    "QUEUE_MAX_ROWS": "rows held in memory per table before spooling (default 500000)",
    "SPOOL_DIR": "on-disk spool while the database is down (default ./var/spool)",
    "SPOOL_MAX_BYTES": "spool size cap (default 2 GiB)",
    # observability
    "METRICS_HOST": "bind address of the recorder's /health and /metrics (default 127.0.0.1)",
    "METRICS_PORT": "their port (default 9108)",
    "LOG_LEVEL": "DEBUG, INFO (default), WARNING or ERROR",
    "LOG_FORMAT": "text (default) or json",
    "LOG_FILE": "append log lines to this file instead of stderr",
    # strategy worker
    "STRATEGY_CONFIG": "TOML file of strategies and parameters (see strategy.example.toml)",
    "STRATEGY_SYMBOLS": "symbols to trade, or top:N (default: what the recorder records)",
    "STRATEGY_VENUE": "binance (default) or bybit: whose recorded rows the strategy reads",
    "EXECUTION": "off (signals only), paper, binance or binance-spot (flatten: which side)",
    "WEBHOOK_URL": "POST each signal as JSON to this URL",
    "TELEGRAM_BOT_TOKEN": "Telegram bot token: signals, exits and reports to a chat (never logged)",
    "TELEGRAM_CHAT_ID": "the chat the bot writes to (set with TELEGRAM_BOT_TOKEN)",
    "TELEGRAM_API_URL": "Bot API base (default https://api.telegram.org)",
    "TELEGRAM_MIN_INTERVAL": "seconds between Telegram messages (default 1; a group: 3)",
    "STRATEGY_METRICS_HOST": "bind address of the worker's /health and /metrics",
    "STRATEGY_METRICS_PORT": "their port (default 9109)",
    # Binance execution
    "BINANCE_API_KEY": "API key (EXECUTION=binance; never logged)",
    "BINANCE_API_SECRET": "API secret (never logged)",
    "BINANCE_LIVE": "1 = real money on fapi.binance.com (default: demo/testnet)",
    "BINANCE_TRADE_REST_URL": "override of the trading REST base (e.g. the simulator)",
    "BINANCE_TRADE_WS_URL": "override of the user-data WebSocket base",
    "LEVERAGE": "leverage set on each symbol (default 5)",
    "MARGIN_TYPE": "ISOLATED (default) or CROSSED",
    "ENTRY_TYPE": "MARKET (default) or LIMIT",
    "LIMIT_ENTRY_TIMEOUT": "seconds a LIMIT entry may rest (default 30)",
    "LIMIT_ENTRY_REPLACES": "times an unfilled LIMIT entry is re-placed at the best price (0-9)",
    "STALE_FLATTEN_AFTER": "seconds of silent recorded streams before a symbol is flattened",
    # Binance spot execution (the MACD trader's deals)
    "BINANCE_SPOT_API_KEY": "spot API key (EXECUTION=binance-spot; never logged)",
    "BINANCE_SPOT_API_SECRET": "spot API secret (never logged)",
    "BINANCE_SPOT_TRADE_REST_URL": "override of the spot trading REST base (default: testnet)",
    "SPOT_ORDER_LIFETIME": "seconds a spot BUY may rest before it is re-placed (default 60)",
    "SPOT_BUY_ATTEMPTS": "BUY placements per deal (default 3)",
    "SPOT_DEAL_QUOTA": "quote amount per deal (default: the risk manager's size)",
    "SPOT_MAX_DEALS": "open deals per pair (default 1)",
    "SPOT_PAIRS": "per pair SYMBOL:QUOTA:MAX_DEALS,...",
    "SPOT_POLL_INTERVAL": "seconds between order status polls (default 1)",
    # simulator and docker compose
    "SIM_API_KEYS": "the simulator's accounts, KEY:SECRET,... (or --api-keys-file)",
    "POSTGRES_PASSWORD": "docker compose: the TimescaleDB container's password",
    "GRAFANA_ADMIN_PASSWORD": "docker compose: Grafana's admin password",
}

_DB = ("DATABASE_URL", "FLOWLINE_DB_PORT")
_LOGS = ("LOG_LEVEL", "LOG_FORMAT", "LOG_FILE")
_EXECUTION = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BINANCE_LIVE", "BINANCE_TRADE_REST_URL",
              "BINANCE_TRADE_WS_URL", "LEVERAGE", "MARGIN_TYPE", "ENTRY_TYPE",
              "LIMIT_ENTRY_TIMEOUT", "LIMIT_ENTRY_REPLACES", "STALE_FLATTEN_AFTER",
              "BINANCE_SPOT_API_KEY", "BINANCE_SPOT_API_SECRET", "BINANCE_SPOT_TRADE_REST_URL",
              "SPOT_ORDER_LIFETIME", "SPOT_BUY_ATTEMPTS", "SPOT_DEAL_QUOTA", "SPOT_MAX_DEALS",
              "SPOT_PAIRS", "SPOT_POLL_INTERVAL")  # fmt: skip
_MARKET_DATA = ("BINANCE_WS_URL", "BINANCE_REST_URL", "SYMBOLS", "UNIVERSE_REFRESH", "MARKETS",
                "VENUES", "BYBIT_WS_URL", "BYBIT_REST_URL", "BYBIT_SYMBOLS", "BYBIT_DEPTH",
                "BINANCE_SPOT_WS_URL", "BINANCE_SPOT_REST_URL", "SPOT_DEPTH_SPEED", "DEPTH_SPEED",
                "OI_POLL_INTERVAL", "DEPTH_SNAPSHOT_INTERVAL", "BOOK_TOP_INTERVAL",
                "BOOK_TOP_LEVELS", "CONNECTION_MAX_AGE", "STREAM_SILENT_AFTER",
                "GAP_HOLD_MAX")  # fmt: skip
_WRITING = ("BATCH_MAX_ROWS", "BATCH_MAX_MS", "QUEUE_MAX_ROWS", "SPOOL_DIR", "SPOOL_MAX_BYTES")
_STRATEGY = ("STRATEGY_CONFIG", "STRATEGY_SYMBOLS", "STRATEGY_VENUE", "EXECUTION", "WEBHOOK_URL",
             "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_URL", "TELEGRAM_MIN_INTERVAL",
             "STRATEGY_METRICS_HOST", "STRATEGY_METRICS_PORT")  # fmt: skip
COMMANDS: dict[str, tuple[str, ...]] = {
    "record": (
        *_DB,
        *_MARKET_DATA,
        *_WRITING,
        "METRICS_HOST",
        "METRICS_PORT",
        "RETENTION",
        "ARCHIVE_AFTER",
        "ARCHIVE_DIR",
        "LEASES",
        "LEASE_TIMEOUT",
        "RECORDER_PROCESSES",
        "LEASE_MEMBERS",
        "REDUNDANCY",
        *_LOGS,
    ),
    "strategy": (*_DB, *_STRATEGY, *_LOGS, *_EXECUTION),
    "backtest": (*_DB, "STRATEGY_CONFIG", "STRATEGY_VENUE", *_LOGS),
    "sim": ("SIM_API_KEYS",),
    "demo": (*_DB, "VENUES", "SPOOL_DIR", "METRICS_PORT", "STRATEGY_METRICS_PORT", *_LOGS),
    "db": (*_DB, "RETENTION", "ARCHIVE_DIR", "GRAFANA_DB_PASSWORD"),
    "archive": (*_DB, "ARCHIVE_AFTER", "ARCHIVE_DIR"),
    "status": _DB,
    "flatten": (*_DB, "EXECUTION", *_EXECUTION),
}
DOCKER_COMPOSE = ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_DB_PASSWORD")


def help_for(command: str) -> str:
    """The ``environment:`` section of a command's --help (also read from ./.env)."""
    names = COMMANDS[command]
    width = max(len(n) for n in names) + 2
    lines = ["environment (also read from ./.env; see .env.example):"]
    lines += [f"  {name:<{width}}{VARIABLES[name]}" for name in names]
    return "\n".join(lines)
