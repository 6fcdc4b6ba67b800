"""Symbols from settings match the same pattern as those from the exchange, or start-up stops
with one line naming the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from settings import Settings, SettingsError
from strategy.config import load_config

HOSTILE = ["ETH?USDT", "BTC#USDT", "SOL&USDT", "BAD\nUSDT", "X/Y"]


@pytest.mark.parametrize("name", HOSTILE)
def test_the_recorder_refuses_a_hostile_symbol(name: str) -> None:
    with pytest.raises(SettingsError, match=r"^SYMBOLS must be like"):
        Settings.from_env({"SYMBOLS": f"BTCUSDT,{name}"}, dotenv=False)


@pytest.mark.parametrize("name", HOSTILE)
def test_the_worker_refuses_a_hostile_symbol(name: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^STRATEGY_SYMBOLS must be like BTCUSDT"):
        load_config(None, {"STRATEGY_SYMBOLS": f"BTCUSDT,{name}"})
    toml = tmp_path / "strategy.toml"
    toml.write_text(f'[worker]\nsymbols = ["BTCUSDT", {json.dumps(name)}]\n')
    with pytest.raises(SettingsError, match=r"^\[worker\] symbols must be like BTCUSDT"):
        load_config(toml, {})


def test_real_symbol_names_pass() -> None:
    names = "BTCUSDT,1000PEPEUSDT,BTCUSDT_260327"
    assert Settings.from_env({"SYMBOLS": names}, dotenv=False).symbols == tuple(names.split(","))
    assert load_config(None, {"STRATEGY_SYMBOLS": names}).symbols == tuple(names.split(","))
