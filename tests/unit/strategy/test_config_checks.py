"""What the start-up check accepts and how the worker's config fingerprint reacts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from settings import SettingsError
from strategy.config import RiskParams, StrategyConfig, fingerprint, load_config


def test_symbols_list_top_n_or_follow_the_recorder():
    assert load_config(None, env={}).symbols == ()  # follow every symbol the recorder declares
    top = load_config(None, env={"STRATEGY_SYMBOLS": "top:5"})
    assert (top.symbols, top.top_n) == ((), 5)
    listed = load_config(None, env={"STRATEGY_SYMBOLS": "btcusdt, ETHUSDT"})
    assert (listed.symbols, listed.top_n) == (("BTCUSDT", "ETHUSDT"), None)
    with pytest.raises(SettingsError, match="STRATEGY_SYMBOLS must be like"):
        load_config(None, env={"STRATEGY_SYMBOLS": "BTC-USDT"})


def test_durations_in_the_file(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[worker]\nsymbols = "top:3"\n[paper]\nmax_hold = "30m"\n[risk]\ncooldown = 0\n'
    )
    config = load_config(path, env={})
    assert config.top_n == 3 and config.paper.max_hold_ms == 1_800_000
    assert config.risk.cooldown_ms == 0
    path.write_text("[paper]\nmax_hold = -1\n")
    with pytest.raises(SettingsError, match=r"\[paper\] max_hold: expected a duration >= 0"):
        load_config(path, env={})


def test_a_wrong_type_is_named_with_what_is_allowed(tmp_path: Path):
    path = tmp_path / "s.toml"
    for text, says in [
        ("[paper]\nbreakeven_after_target1 = 1\n", "expected true or false, got 1"),
        ('[risk]\nmax_daily = { HIGH = "x" }\n', "HIGH = n, MEDIUM = n, LOW = n"),
        ('[worker]\nexecutor = "live"\n', "expected one of off, paper, binance"),
        (
            "[strategies.wall]\nerosion_min = 0.3\n",
            "unknown key (allowed: enabled, params, symbols, exits)",
        ),
        ('[strategies.wall.params]\ntargets_r = "far"\n', "targets_r: expected a list of numbers"),
    ]:
        path.write_text(text)
        with pytest.raises(SettingsError, match=says.replace("(", r"\(").replace(")", r"\)")):
            load_config(path, env={})


def test_the_fingerprint_follows_what_shapes_the_work():
    base = StrategyConfig(symbols=("BTCUSDT",))
    same = replace(base, worker_name="other", metrics_port=0, poll_ms=50, settle_ms=10)
    assert fingerprint(same) == fingerprint(base)
    for changed in (
        replace(base, risk=RiskParams(risk_per_trade=0.01)),
        replace(base, executor="off"),
        replace(base, symbols=("BTCUSDT", "ETHUSDT")),
        replace(base, warmup_ms=0),
    ):
        assert fingerprint(changed) != fingerprint(base)
