"""The indicator values of one symbol at one bar close: what strategies read and what the
`indicators` hypertable stores (one typed column per field in `COLUMNS`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from indicators.walls import Wall, WallEvent

COLUMNS = (
    "time_ms", "symbol", "bar_ms",
    "open", "high", "low", "close", "volume", "buy_volume", "sell_volume", "delta",
    "normalized_delta", "trades", "vwap", "cvd", "rolling_vwap", "rsi", "atr",
    "large_buys", "large_sells",
    "book_valid", "best_bid", "best_ask", "imbalance", "band_imbalance", "ofi",
    "bid_wall_price", "bid_wall_qty", "bid_wall_bps", "ask_wall_price", "ask_wall_qty",
    "ask_wall_bps",
    "absorption", "absorption_side", "absorption_price",
    "panic", "panic_score", "panic_direction",
    "liq_sell_notional", "liq_buy_notional", "cascade_side", "cascade_exhaustion",
    "cascade_exhausted",
    "fp_buy_imbalances", "fp_sell_imbalances", "fp_buy_zones", "fp_sell_zones",
    "divergence",
    "mark_price", "funding_rate", "open_interest",
)  # fmt: skip


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
    divergence: int = 0  # +1 bullish, -1 bearish (confirmed on this bar), 0 none
    mark_price: float | None = None
    funding_rate: float | None = None
    open_interest: float | None = None
    # Not stored: what strategies need beyond the columns.
    tick_size: float = 0.0
    walls: tuple[Wall, ...] = field(default=(), repr=False)
    wall_events: tuple[WallEvent, ...] = field(default=(), repr=False)
    cascade_start_ms: int | None = None

    @property
    def end_ms(self) -> int:
        return self.time_ms + self.bar_ms

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in COLUMNS)
