"""The strategies, by the name the config file uses."""

from __future__ import annotations

from settings import SettingsError
from strategy.config import StrategySpec
from strategy.strategies.composite import CompositeStrategy
from strategy.strategies.macd_book import MacdBookStrategy
from strategy.strategies.scored_imbalance import ScoredImbalanceStrategy
from strategy.strategies.wall import WallStrategy

REGISTRY: dict[str, type] = {
    CompositeStrategy.name: CompositeStrategy,
    MacdBookStrategy.name: MacdBookStrategy,
    ScoredImbalanceStrategy.name: ScoredImbalanceStrategy,
    WallStrategy.name: WallStrategy,
}


def check_strategies(specs: tuple[StrategySpec, ...]) -> None:
    """Build every configured strategy once (its defaults, then each symbol override), so an
    unknown name, a misspelt parameter or a bad value stops start-up with one line naming it."""
    for spec in specs:
        if spec.name not in REGISTRY:
            known = ", ".join(sorted(REGISTRY))
            raise SettingsError(f"[strategies.{spec.name}]: unknown strategy (known: {known})")
        for symbol in ("*", *spec.symbols):
            _, params = spec.for_symbol(symbol)
            REGISTRY[spec.name](symbol, params)
