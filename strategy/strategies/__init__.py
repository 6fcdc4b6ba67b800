"""The strategies, by the name the config file uses."""

from __future__ import annotations

from strategy.strategies.composite import CompositeStrategy
from strategy.strategies.scored_imbalance import ScoredImbalanceStrategy
from strategy.strategies.wall import WallStrategy

REGISTRY: dict[str, type] = {
    CompositeStrategy.name: CompositeStrategy,
    ScoredImbalanceStrategy.name: ScoredImbalanceStrategy,
    WallStrategy.name: WallStrategy,
}
