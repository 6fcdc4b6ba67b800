"""EXECUTION=binance-spot settings: testnet by default, the futures executor's live-flag and
URL rules, keys required, per-pair quotas."""

from __future__ import annotations

import pytest

from settings import SettingsError
from strategy.spot.config import LIVE_REST_URL, TESTNET_REST_URL, SpotConfig

KEYS = {"BINANCE_SPOT_API_KEY": "k" * 64, "BINANCE_SPOT_API_SECRET": "s" * 64}


def test_testnet_by_default_and_keys_never_shown():
    config = SpotConfig.from_env(KEYS)
    assert config.rest_url == TESTNET_REST_URL and not config.live
    assert config.environment == "demo/testnet"
    assert "k" * 64 not in repr(config) and "s" * 64 not in repr(config)


def test_live_only_with_the_flag_and_only_on_production_hosts():
    assert SpotConfig.from_env({**KEYS, "BINANCE_LIVE": "1"}).rest_url == LIVE_REST_URL
    with pytest.raises(SettingsError, match="BINANCE_LIVE=1"):
        SpotConfig.from_env({**KEYS, "BINANCE_SPOT_TRADE_REST_URL": LIVE_REST_URL})
    with pytest.raises(SettingsError, match="production Binance hosts"):
        SpotConfig.from_env(
            {**KEYS, "BINANCE_LIVE": "1", "BINANCE_SPOT_TRADE_REST_URL": TESTNET_REST_URL}
        )
    with pytest.raises(SettingsError, match="in clear"):
        SpotConfig.from_env(
            {**KEYS, "BINANCE_SPOT_TRADE_REST_URL": "http://testnet.binance.vision"}
        )
    with pytest.raises(SettingsError, match="neither"):
        SpotConfig.from_env({**KEYS, "BINANCE_SPOT_TRADE_REST_URL": "https://example.com"})
    local = SpotConfig.from_env({**KEYS, "BINANCE_SPOT_TRADE_REST_URL": "http://127.0.0.1:8080"})
    assert local.environment.startswith("local")


def test_keys_are_required():
    with pytest.raises(SettingsError, match="BINANCE_SPOT_API_SECRET"):
        SpotConfig.from_env({"BINANCE_SPOT_API_KEY": "k"})


def test_pairs_have_their_own_quota_and_max_deals():
    config = SpotConfig.from_env(
        {**KEYS, "SPOT_PAIRS": "BTCUSDT:50:2, ethusdt:20.5:1", "SPOT_MAX_DEALS": "3"}
    )
    assert config.limits("BTCUSDT") == (50.0, 2)
    assert config.limits("ETHUSDT") == (20.5, 1)
    assert config.limits("SOLUSDT") == (None, 3)  # the risk manager's size
    for bad in ("BTCUSDT:50", "BTCUSDT:-1:1", "BTCUSDT:x:1"):
        with pytest.raises(SettingsError, match="SPOT_PAIRS"):
            SpotConfig.from_env({**KEYS, "SPOT_PAIRS": bad})
