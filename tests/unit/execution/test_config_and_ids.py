"""Executor configuration from the environment, client order ids, error classification."""

from __future__ import annotations

import re
import uuid

import pytest

from settings import SettingsError
from strategy.binance.config import DEMO_REST_URL, LIVE_REST_URL, BinanceConfig
from strategy.binance.errors import (
    AuthError,
    ClockSkewError,
    ListenKeyMissing,
    OrderRejected,
    RateLimited,
    StatusUnknown,
    UnknownOrder,
    classify,
)
from strategy.binance.orders import client_id, next_move, parse_client_id

KEYS = {"BINANCE_API_KEY": "k" * 64, "BINANCE_API_SECRET": "s" * 64}


def test_demo_by_default_and_live_only_with_the_flag() -> None:
    demo = BinanceConfig.from_env(KEYS)
    assert not demo.live and demo.rest_url == DEMO_REST_URL
    live = BinanceConfig.from_env({**KEYS, "BINANCE_LIVE": "1"})
    assert live.live and live.rest_url == LIVE_REST_URL
    assert "k" * 64 not in repr(live) and "s" * 64 not in repr(live)


def test_durations_and_choices() -> None:
    config = BinanceConfig.from_env(
        {**KEYS, "STALE_FLATTEN_AFTER": "45s", "LIMIT_ENTRY_TIMEOUT": "2m", "ENTRY_TYPE": "limit"}
    )
    assert config.stale_flatten_after == 45 and config.limit_entry_timeout == 120
    assert config.entry_type == "LIMIT"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "BINANCE_API_KEY"),
        ({"BINANCE_API_KEY": "k"}, "BINANCE_API_SECRET"),
        ({**KEYS, "BINANCE_LIVE": "yes"}, "BINANCE_LIVE"),
        ({**KEYS, "LEVERAGE": "500"}, "LEVERAGE"),
        ({**KEYS, "MARGIN_TYPE": "cross"}, "MARGIN_TYPE"),
        ({**KEYS, "ENTRY_TYPE": "STOP"}, "ENTRY_TYPE"),
        ({**KEYS, "STALE_FLATTEN_AFTER": "soon"}, "STALE_FLATTEN_AFTER"),
        ({**KEYS, "BINANCE_TRADE_REST_URL": "ftp://x"}, "BINANCE_TRADE_REST_URL"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        BinanceConfig.from_env(env)


def test_client_ids_fit_binance_regex_and_parse_back() -> None:
    signal_id = uuid.uuid5(uuid.NAMESPACE_URL, "x")
    pattern = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
    for role in ("entry", "stop", "breakeven", "tp1", "tp2", "close", "move1", "move1234567"):
        cid = client_id(signal_id, role)
        assert pattern.match(cid) and cid.startswith("fl-")
        assert parse_client_id(cid) == (signal_id.hex[:20], role)
    assert parse_client_id("manual-order") is None
    assert next_move("breakeven") == "move1" and next_move("move9") == "move10"


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (-1022, 400, AuthError),
        (-2015, 401, AuthError),
        (-1021, 400, ClockSkewError),
        (-2013, 400, UnknownOrder),
        (-1125, 400, ListenKeyMissing),
        (-1001, 502, StatusUnknown),
        (0, 504, StatusUnknown),
        (-1003, 429, RateLimited),
        (-2019, 400, OrderRejected),
    ],
)
def test_error_classes(code: int, status: int, kind: type) -> None:
    assert type(classify(code, "m", status)) is kind
