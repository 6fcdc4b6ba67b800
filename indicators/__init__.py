"""Flowline's order-flow indicator library: pure, incremental, no I/O.

Every indicator is a small object with `update(...)`, `value` (None while undefined or
warming up), `ready` and `reset()`. Times are integer ms UTC; book prices are ticks.
"""

from indicators.bars import Bar, Footprint, TimeBars, VolumeBars
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
from indicators.types import BookState, Level, Liquidation, Trade, is_crossed, to_ticks

__all__ = [
    "BandImbalance",
    "Bar",
    "BarDivergence",
    "BookState",
    "Cvd",
    "DepthImbalance",
    "Divergence",
    "Footprint",
    "Level",
    "Liquidation",
    "MultiLevelOfi",
    "Ofi",
    "RollingCvd",
    "SwingDivergence",
    "SwingDivergenceConfig",
    "TimeBars",
    "Trade",
    "VolumeBars",
    "WeightedMid",
    "band_imbalance",
    "depth_imbalance",
    "is_crossed",
    "mid_price",
    "normalized_delta",
    "ofi_step",
    "queue_imbalance",
    "to_ticks",
    "trade_sign",
    "weighted_mid",
]
