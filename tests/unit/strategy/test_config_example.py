"""strategy.example.toml documents the defaults: it must parse to exactly them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from strategy.config import StrategyConfig, load_config

ROOT = Path(__file__).resolve().parents[3]


def test_the_example_file_states_the_defaults():
    example = load_config(ROOT / "strategy.example.toml", env={})
    defaults = StrategyConfig()
    assert [s.name for s in example.strategies] == [s.name for s in defaults.strategies]
    assert all(s.enabled and not s.params for s in example.strategies)
    assert replace(example, strategies=defaults.strategies) == defaults
