"""Flowline's order-flow indicator library: pure, incremental, no I/O.

Every indicator is a small object with `update(...)`, `value` (None while undefined or
warming up, never a fake 0), `ready` and `reset()`. Times are integer ms UTC; book
prices are integer ticks. Binance aggTrade `m=True` (is_buyer_maker) is a SELL aggressor.
"""

from indicators.absorption import (
    Absorption,
    AbsorptionConfig,
    absorption_impact,
    absorption_simple,
    kyle_lambda,
)
from indicators.bars import Bar, Footprint, TimeBars, VolumeBars
from indicators.cascade import (
    CascadeConfig,
    CascadeDetector,
    HawkesCascade,
    HawkesConfig,
    branching_ratio_estimate,
)
from indicators.classic import Atr, Ema, Macd, RollingVwap, Rsi, SessionVwap
from indicators.delta import (
    BarDivergence,
    Cvd,
    Divergence,
    RollingCvd,
    SwingDivergence,
    SwingDivergenceConfig,
    normalized_delta,
    trade_sign,
)
from indicators.footprint import (
    FootprintImbalance,
    FootprintImbalanceConfig,
    FootprintSignal,
    Imbalance,
    StackedZone,
    diagonal_imbalances,
    stacked_zones,
)
from indicators.imbalance import (
    BandImbalance,
    DepthImbalance,
    MultiLevelOfi,
    Ofi,
    WeightedMid,
    band_imbalance,
    depth_imbalance,
    mid_price,
    ofi_step,
    queue_imbalance,
    weighted_mid,
)
from indicators.panic import (
    PanicConfig,
    PanicIndex,
    RealizedVolatility,
    parkinson_volatility,
    robust_z,
)
from indicators.types import BookState, Level, Liquidation, Trade, is_crossed, to_ticks
from indicators.walls import LiquidityWalls, NearestWalls, Wall, WallConfig, WallEvent

__all__ = [
    "Absorption",
    "AbsorptionConfig",
    "Atr",
    "BandImbalance",
    "Bar",
    "BarDivergence",
    "BookState",
    "CascadeConfig",
    "CascadeDetector",
    "Cvd",
    "DepthImbalance",
    "Divergence",
    "Ema",
    "Footprint",
    "FootprintImbalance",
    "FootprintImbalanceConfig",
    "FootprintSignal",
    "HawkesCascade",
    "HawkesConfig",
    "Imbalance",
    "Level",
    "Liquidation",
    "LiquidityWalls",
    "Macd",
    "MultiLevelOfi",
    "NearestWalls",
    "Ofi",
    "PanicConfig",
    "PanicIndex",
    "RealizedVolatility",
    "RollingCvd",
    "RollingVwap",
    "Rsi",
    "SessionVwap",
    "StackedZone",
    "SwingDivergence",
    "SwingDivergenceConfig",
    "TimeBars",
    "Trade",
    "VolumeBars",
    "Wall",
    "WallConfig",
    "WallEvent",
    "WeightedMid",
    "absorption_impact",
    "absorption_simple",
    "band_imbalance",
    "branching_ratio_estimate",
    "depth_imbalance",
    "diagonal_imbalances",
    "is_crossed",
    "kyle_lambda",
    "mid_price",
    "normalized_delta",
    "ofi_step",
    "parkinson_volatility",
    "queue_imbalance",
    "robust_z",
    "stacked_zones",
    "to_ticks",
    "trade_sign",
    "weighted_mid",
]
