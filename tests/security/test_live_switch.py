"""Real money only with BINANCE_LIVE=1, decided by the host the orders would really go to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from settings import SettingsError
from strategy.binance.config import BinanceConfig
from tests.db_fixtures import ROOT

KEYS = {"BINANCE_API_KEY": "k" * 64, "BINANCE_API_SECRET": "s" * 64}
LIVE = {"BINANCE_TRADE_REST_URL": "https://fapi.binance.com",
        "BINANCE_TRADE_WS_URL": "wss://fstream.binance.com"}  # fmt: skip
DEMO = {"BINANCE_TRADE_REST_URL": "https://demo-fapi.binance.com",
        "BINANCE_TRADE_WS_URL": "wss://fstream.binancefuture.com"}  # fmt: skip


def test_a_production_host_without_the_live_flag_is_refused_by_the_flatten_command() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}
    env |= KEYS | LIVE | {"BINANCE_LIVE": "0"}
    done = subprocess.run(
        [sys.executable, "main.py", "flatten"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs BINANCE_LIVE=1" in lines[0], done.stderr


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (LIVE | {"BINANCE_LIVE": "0"}, "needs BINANCE_LIVE=1"),
        ({"BINANCE_TRADE_REST_URL": "https://fapi.binance.com.", "BINANCE_TRADE_WS_URL":
          "wss://fstream.binance.com"}, "needs BINANCE_LIVE=1"),
        (DEMO | {"BINANCE_LIVE": "1"}, "production Binance hosts"),
        ({"BINANCE_LIVE": "1", "BINANCE_TRADE_REST_URL": "http://fapi.binance.com",
          "BINANCE_TRADE_WS_URL": "wss://fstream.binance.com"}, "in clear"),
        ({"BINANCE_TRADE_REST_URL": "https://demo-fapi.binance.com",
          "BINANCE_TRADE_WS_URL": "ws://fstream.binancefuture.com"}, "in clear"),
        ({"BINANCE_TRADE_REST_URL": "https://demo-fapi.binance.com"}, "go together"),
        ({"BINANCE_TRADE_WS_URL": "ws://127.0.0.1:9000"}, "go together"),
        ({"BINANCE_TRADE_REST_URL": "https://demo-fapi.binance.com",
          "BINANCE_TRADE_WS_URL": "wss://fstream.binance.com"}, "same environment"),
        ({"BINANCE_TRADE_REST_URL": "https://binance-proxy.example.net",
          "BINANCE_TRADE_WS_URL": "wss://binance-proxy.example.net"}, "neither"),
        ({"BINANCE_TRADE_REST_URL": "https://user:pw@demo-fapi.binance.com",
          "BINANCE_TRADE_WS_URL": "wss://fstream.binancefuture.com"}, "base URL"),
    ],
)  # fmt: skip
def test_hosts_decide_and_every_refusal_names_the_setting(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match="BINANCE_") as refused:
        BinanceConfig.from_env(KEYS | env)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("env", "live", "environment"),
    [
        ({}, False, "demo/testnet"),
        ({"BINANCE_LIVE": "1"}, True, "LIVE"),
        (DEMO, False, "demo/testnet"),
        ({"BINANCE_TRADE_REST_URL": "http://127.0.0.1:8123",
          "BINANCE_TRADE_WS_URL": "ws://127.0.0.1:8123"}, False, "local (loopback: simulator)"),
    ],
)  # fmt: skip
def test_the_environment_named_at_start_is_the_hosts(
    env: dict[str, str], live: bool, environment: str
) -> None:
    config = BinanceConfig.from_env(KEYS | env)
    assert config.live is live and config.environment == environment
