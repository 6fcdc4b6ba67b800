"""The indicator values of one symbol at one bar close: what strategies read and what the
`indicators` hypertable stores (one typed column per stored field, `COLUMNS`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from indicators.types import BookState
from indicators.walls import Wall, WallEvent


@dataclass(slots=True)
class Snapshot:
    """None means undefined or warming up, never a fake 0. Prices in quote currency."""

    time_ms: int  # bar start
    symbol: str
    bar_ms: int
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    volume: float = 0.0
    buy_volume: float = 0.0
    sell_volume: float = 0.0
    delta: float = 0.0
    normalized_delta: float | None = None
    trades: int = 0
    vwap: float | None = None
    cvd: float | None = None
    rolling_vwap: float | None = None
    rsi: float | None = None
    atr: float | None = None
    large_buys: int = 0
    large_sells: int = 0
    book_valid: bool = False
    best_bid: float | None = None
    best_ask: float | None = None
    imbalance: float | None = None
    band_imbalance: float | None = None
    ofi: float | None = None
    bid_wall_price: float | None = None
    bid_wall_qty: float | None = None
    bid_wall_bps: float | None = None
    ask_wall_price: float | None = None
    ask_wall_qty: float | None = None
    ask_wall_bps: float | None = None
    absorption: float | None = None
    absorption_side: int = 0
    absorption_price: float | None = None
    absorption_impact: float | None = None
    panic: float | None = None
    panic_score: float | None = None
    panic_direction: int = 0
    liq_sell_notional: float = 0.0
    liq_buy_notional: float = 0.0
    cascade_side: int = 0
    cascade_exhaustion: float | None = None
    cascade_exhausted: bool = False
    fp_buy_imbalances: int = 0
    fp_sell_imbalances: int = 0
    fp_buy_zones: int = 0
    fp_sell_zones: int = 0
    # confirmed on this bar: +1/-1 regular bullish/bearish, +2/-2 hidden, 0 none
    divergence: int = 0
    mark_price: float | None = None
    funding_rate: float | None = None
    open_interest: float | None = None
    # Not stored: what strategies need beyond the columns.
    tick_size: float = 0.0
    walls: tuple[Wall, ...] = field(default=(), repr=False)
    wall_events: tuple[WallEvent, ...] = field(default=(), repr=False)
    cascade_start_ms: int | None = None
    # the book sampled at the bar close (levels in ticks), for strategies that read depth
    book: BookState | None = field(default=None, repr=False, compare=False)

    @property
    def end_ms(self) -> int:
        return self.time_ms + self.bar_ms

    def row(self) -> tuple:
        """The stored columns, in `COLUMNS` order."""
        return tuple(getattr(self, name) for name in COLUMNS)


# Every field before `tick_size` is a column of the `indicators` table, in this order.
_ALL = tuple(f.name for f in fields(Snapshot))
COLUMNS = _ALL[: _ALL.index("tick_size")]
