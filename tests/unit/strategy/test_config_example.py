"""strategy.example.toml documents the defaults: it must parse to exactly them."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path

from strategy.config import StrategyConfig, load_config
from strategy.strategies import REGISTRY

ROOT = Path(__file__).resolve().parents[3]


def test_the_example_file_states_the_defaults():
    example = load_config(ROOT / "strategy.example.toml", env={})
    defaults = StrategyConfig()
    assert [s.name for s in example.strategies] == [s.name for s in defaults.strategies]
    assert all(s.enabled and not s.params for s in example.strategies)
    assert replace(example, strategies=defaults.strategies) == defaults


def test_the_commented_strategy_parameters_are_their_defaults():
    text = (ROOT / "strategy.example.toml").read_text()
    for name, cls in REGISTRY.items():
        block = text.split(f"# [strategies.{name}.params]\n", 1)[1].split("\n\n", 1)[0]
        documented = tomllib.loads(
            "\n".join(line.removeprefix("# ").split("  #")[0] for line in block.splitlines())
        )
        defaults = {f.name: f.default for f in fields(type(cls("BTCUSDT", {}).params))}
        assert documented == {k: list(v) if isinstance(v, tuple) else v
                              for k, v in defaults.items()}, name  # fmt: skip
