from pathlib import Path

import pytest

from collector.venues import VENUES
from settings import VENUE_NAMES, Settings, SettingsError, embedded_database_url, redact_url


def test_defaults_use_the_embedded_database():
    s = Settings.from_env({})
    assert s.database_is_embedded
    assert s.database_url == embedded_database_url()
    assert s.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.binance_ws_url == "wss://fstream.binance.com"
    assert (s.batch_max_rows, s.batch_max_ms, s.book_top_levels) == (5000, 100, 20)


def test_values_are_parsed_and_normalised():
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:secret@db:5432/x",
            "SYMBOLS": " btcusdt, ETHUSDT ,btcusdt",
            "BINANCE_WS_URL": "ws://127.0.0.1:9000/",
            "DEPTH_SPEED": "500MS",
            "RETENTION": "depth_updates=7d, book_top=12h",
            "SPOOL_DIR": "/tmp/spool",
        }
    )
    assert not s.database_is_embedded
    assert s.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.binance_ws_url == "ws://127.0.0.1:9000"
    assert s.depth_speed == "500ms"
    assert s.retention == {"depth_updates": 7 * 86400, "book_top": 12 * 3600}
    assert s.spool_dir == Path("/tmp/spool")


def test_spot_market_and_its_urls():
    s = Settings.from_env({})
    assert s.markets == ("futures",)
    assert s.binance_spot_ws_url == "wss://stream.binance.com:9443"
    assert s.binance_spot_rest_url == "https://api.binance.com"
    s = Settings.from_env(
        {
            "MARKETS": "Futures, spot",
            "BINANCE_SPOT_WS_URL": "ws://127.0.0.1:9000/spot/",
            "SPOT_DEPTH_SPEED": "1000ms",
        }
    )
    assert s.markets == ("futures", "spot")
    assert s.binance_spot_ws_url == "ws://127.0.0.1:9000/spot"
    assert s.spot_depth_speed == "1000ms"


def test_top_n_universe():
    s = Settings.from_env({"SYMBOLS": "top:30"})
    assert s.top_n == 30 and s.symbols == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BATCH_MAX_ROWS", "abc"),
        ("BATCH_MAX_ROWS", "0"),
        ("METRICS_PORT", "70000"),
        ("OI_POLL_INTERVAL", "soon"),
        ("DEPTH_SPEED", "1s"),
        ("SYMBOLS", "BTC-USDT"),
        ("SYMBOLS", "top:0"),
        ("MARKETS", "futures,options"),
        ("MARKETS", "spot"),
        ("SPOT_DEPTH_SPEED", "250ms"),
        ("BINANCE_SPOT_WS_URL", "https://stream.binance.com"),
        ("BINANCE_WS_URL", "http://example"),
        ("BINANCE_REST_URL", "ftp://x"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("RETENTION", "trades=7d"),
        ("RETENTION", "agg_trades=forever"),
        ("LOG_FORMAT", "xml"),
        ("VENUES", "binance,okx"),
        ("BYBIT_DEPTH", "1000"),
        ("BYBIT_SYMBOLS", "top:x"),
        ("BYBIT_WS_URL", "https://stream.bybit.com"),
        ("BYBIT_REST_URL", "wss://api.bybit.com"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_bybit_settings_default_to_binance_symbols():
    s = Settings.from_env({"SYMBOLS": "SOLUSDT,BTCUSDT"}, dotenv=False)
    assert s.venues == ("binance",) and s.bybit_symbols == ("SOLUSDT", "BTCUSDT")
    assert s.bybit_ws_url == "wss://stream.bybit.com/v5/public/linear" and s.bybit_depth == 50
    s = Settings.from_env({"VENUES": "bybit, binance", "BYBIT_SYMBOLS": "top:5"}, dotenv=False)
    assert s.venues == ("bybit", "binance") and s.bybit_top_n == 5 and s.bybit_symbols == ()
    assert tuple(VENUES) == VENUE_NAMES  # settings names the registry without importing it
    with pytest.raises(SettingsError, match="add binance to VENUES"):
        Settings.from_env({"VENUES": "bybit", "MARKETS": "futures,spot"}, dotenv=False)


def test_passwords_are_redacted_in_messages():
    assert redact_url("postgresql://u:hunter2@h:5/d") == "postgresql://u:***@h:5/d"
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"DATABASE_URL": "mysql://u:hunter2@h/d"})
    assert "hunter2" not in str(err.value)
