"""MACD validated by the order book, seed 003 (AutoTrade: TickerService + OrderBookAnalyzer +
StopLossMonitor).

Signal (seed 003 "Trading Process" 1): MACD(`fast`, `slow`, `signal`) on bars of `macd_bar`
(any of 1s … 1h, built from the engine's bars: a MACD bar closes at the engine bar that crosses a
multiple of `macd_bar`). BUY when the histogram turns positive (≤ 0 on the previous MACD bar,
> 0 now). The seed trades spot, so BUY only; `shorts` = true mirrors it (histogram turning
negative: SELL).

Book validation (OrderBookAnalyzer, seed defaults from its "OrderBook Analysis Settings"), on
the book at the bar close, within `depth_pct` % of the mid:
- spread (`analyze_spread`): at most `max_spread_pct` (0.3 %);
- liquidity (`analyze_liquidity`): at least `min_liquidity_depth` (15) levels on each side with
  a quote notional of at least `min_volume_threshold` (1000);
- volume imbalance: the side we trade into must not outweigh ours ("дисбаланс объемов
  негативный" rejects): the top-`book_levels` depth imbalance ≥ 0 for a BUY;
- support / resistance (`find_support_resistance`): levels of at least `big_wall_threshold`
  (5000) quote; the nearest resistance above caps the target one tick below it (the seed's
  "smart order modifications"; [PROPOSAL] no trade when that leaves less than half the
  markup), `require_orderbook_support` demands a support wall;
- expected slippage (`calculate_slippage`): buying `typical_order_size` (10 USDT) through the
  asks costs at most `max_slippage_pct` [PROPOSAL 0.1 %] over the best ask;
- confidence: the mean of the spread, liquidity, imbalance, slippage and support scores (each
  0–1) must reach `confidence_threshold` (0.6). Score = confidence × 100; quality HIGH ≥
  `high_score`, MEDIUM ≥ `medium_score`.

Exits: the deal's SELL at `profit_markup_pct` above the buy (the target). The three-level stop
(StopLossMonitor; the seed names three levels that read the book, not their values, so the
percentages are [PROPOSAL]): `stop_emergency_pct` is the hard stop (placed with the entry,
whatever the book); at a bar close with a loss of `stop_critical_pct` the position is closed
unless the book still holds a support wall below the price and bids outweigh asks; with a loss
of `stop_warning_pct` it is closed only when the book is clearly against it (no support wall
and bid share below `warning_bid_share`). Signals are at least `cooldown_bars` engine bars apart
(SignalCooldownManager).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from indicators.classic import Macd
from indicators.types import BookState
from settings import SettingsError, parse_duration
from strategy.signals import Quality, Side, Signal
from strategy.snapshot import Snapshot
from strategy.strategies.base import Spacing, check_param, on_tick, quality_of, resolve_params


@dataclass(frozen=True)
class MacdBookParams:
    macd_bar: str = "15m"
    fast: int = 12
    slow: int = 26
    signal: int = 9
    shorts: bool = False
    depth_pct: float = 1.0
    max_spread_pct: float = 0.3
    min_volume_threshold: float = 1000.0
    min_liquidity_depth: int = 15
    big_wall_threshold: float = 5000.0
    typical_order_size: float = 10.0
    max_slippage_pct: float = 0.1
    confidence_threshold: float = 0.6
    require_orderbook_support: bool = False
    profit_markup_pct: float = 1.0
    stop_warning_pct: float = 1.0
    stop_critical_pct: float = 2.0
    stop_emergency_pct: float = 3.0
    warning_bid_share: float = 0.35
    cooldown_bars: int = 60
    high_score: float = 80.0
    medium_score: float = 70.0

    def __post_init__(self) -> None:
        name = MacdBookStrategy.name
        where = f"[strategies.{name}] macd_bar"
        try:
            seconds = parse_duration(where, self.macd_bar)
        except SettingsError as exc:
            raise SettingsError(f"{exc} (1s … 1h)") from exc
        check_param(1 <= seconds <= 3600, name, "macd_bar", "a duration from 1s to 1h")
        check_param(1 <= self.fast < self.slow, name, "fast", ">= 1 and < slow")
        check_param(self.signal >= 1, name, "signal", ">= 1")
        check_param(self.min_liquidity_depth >= 0, name, "min_liquidity_depth", ">= 0")
        check_param(self.cooldown_bars >= 0, name, "cooldown_bars", ">= 0")
        check_param(self.profit_markup_pct > 0, name, "profit_markup_pct", "> 0")
        levels = (self.stop_warning_pct, self.stop_critical_pct, self.stop_emergency_pct)
        check_param(0 < levels[0] <= levels[1] <= levels[2], name, "stop_warning_pct",
                    "0 < stop_warning_pct <= stop_critical_pct <= stop_emergency_pct")  # fmt: skip
        check_param(0 < self.confidence_threshold <= 1, name, "confidence_threshold", "in (0, 1]")

    @property
    def macd_ms(self) -> int:
        return int(parse_duration("macd_bar", self.macd_bar) * 1000)


class BookView(NamedTuple):
    """What the analyzer reads from the book, seen from a trade of `sign`."""

    spread_pct: float
    liquid_levels: int  # the thinner side's levels of at least min_volume_threshold
    imbalance: float  # the top levels' depth imbalance, positive when it favours the trade
    support: float | None  # nearest big level on our side (below a BUY)
    resistance: float | None  # nearest big level on the other side (above a BUY)
    slippage_pct: float | None  # None: the band cannot fill the typical order


def read_book(book: BookState, imbalance: float, p: MacdBookParams, sign: int) -> BookView:
    """The analyzer's view; `imbalance` is the pipeline's top-`book_levels` depth imbalance
    (bids − asks over their sum), turned to the trade's side."""
    tick = book.tick_size
    bid, ask = book.bids[0].ticks * tick, book.asks[0].ticks * tick
    mid = (bid + ask) / 2
    band = mid * p.depth_pct / 100
    bids = [(lv.ticks * tick, lv.qty) for lv in book.bids if lv.ticks * tick >= mid - band]
    asks = [(lv.ticks * tick, lv.qty) for lv in book.asks if lv.ticks * tick <= mid + band]
    ours, theirs = (bids, asks) if sign > 0 else (asks, bids)
    liquid = min(_count(bids, p.min_volume_threshold), _count(asks, p.min_volume_threshold))
    return BookView(
        spread_pct=(ask - bid) / mid * 100,
        liquid_levels=liquid,
        imbalance=sign * imbalance,
        support=_first_big(ours, p.big_wall_threshold),
        resistance=_first_big(theirs, p.big_wall_threshold),
        slippage_pct=_slippage(theirs, p.typical_order_size),
    )


def _count(levels: Sequence[tuple[float, float]], floor: float) -> int:
    return sum(1 for price, qty in levels if price * qty >= floor)


def _first_big(levels: Sequence[tuple[float, float]], floor: float) -> float | None:
    return next((price for price, qty in levels if price * qty >= floor), None)


def _slippage(levels: Sequence[tuple[float, float]], quote: float) -> float | None:
    """% the average fill of `quote` through `levels` (best first) is worse than the best."""
    if not levels:
        return None
    left, cost, qty = quote, 0.0, 0.0
    for price, size in levels:
        take = min(size, left / price)
        cost, qty, left = cost + take * price, qty + take, left - take * price
        if left <= 1e-12:
            return abs(cost / qty - levels[0][0]) / levels[0][0] * 100
    return None


def confidence(view: BookView, p: MacdBookParams) -> float:
    spread = max(0.0, 1 - view.spread_pct / p.max_spread_pct)
    depth = min(view.liquid_levels / p.min_liquidity_depth, 1.0) if p.min_liquidity_depth else 1.0
    pressure = (view.imbalance + 1) / 2
    slip = 0.0
    if view.slippage_pct is not None:
        slip = max(0.0, 1 - view.slippage_pct / p.max_slippage_pct)
    support = 1.0 if view.support is not None else 0.5
    return (spread + depth + pressure + slip + support) / 5


def rejection(view: BookView, p: MacdBookParams) -> str | None:
    """Why the book rejects the trade (None: it does not)."""
    if view.spread_pct > p.max_spread_pct:
        return "spread"
    if view.liquid_levels < p.min_liquidity_depth:
        return "low_liquidity"
    if view.imbalance < 0:
        return "negative_imbalance"
    if view.slippage_pct is None or view.slippage_pct > p.max_slippage_pct:
        return "slippage"
    if p.require_orderbook_support and view.support is None:
        return "no_support"
    if confidence(view, p) < p.confidence_threshold:
        return "low_confidence"
    return None


class MacdBookStrategy:
    name: ClassVar[str] = "macd_book"

    def __init__(self, symbol: str, params: dict[str, Any] | MacdBookParams) -> None:
        self.symbol = symbol
        p = self.params = resolve_params(MacdBookParams, self.name, params)
        self.macd = Macd(p.fast, p.slow, p.signal)
        self.macd_ms = p.macd_ms
        self.last_close: float | None = None
        self.spacing = Spacing(p.cooldown_bars)
        self.rejected: dict[str, int] = {}  # why the book refused MACD signals, for reports

    def on_bar(self, snap: Snapshot) -> Signal | None:
        if snap.close is not None:
            self.last_close = snap.close
        if snap.end_ms // self.macd_ms == snap.time_ms // self.macd_ms or self.last_close is None:
            return None  # the MACD bar is still open
        before = self.macd.histogram
        self.macd.update(self.last_close)
        now = self.macd.histogram
        if before is None or now is None or snap.close is None or snap.tick_size <= 0:
            return None
        sign = 1 if before <= 0 < now else -1 if before >= 0 > now else 0
        if sign == 0 or (sign < 0 and not self.params.shorts) or not self.spacing.allows(snap):
            return None
        signal = self._validated(snap, sign, before, now)
        if signal is not None:
            self.spacing.mark(snap)
        return signal

    def _validated(self, snap: Snapshot, sign: int, before: float, now: float) -> Signal | None:
        p = self.params
        if snap.book is None or snap.imbalance is None:
            self.rejected["no_book"] = self.rejected.get("no_book", 0) + 1
            return None
        view = read_book(snap.book, snap.imbalance, p, sign)
        reason = rejection(view, p)
        if reason is not None:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
            return None
        entry, tick = snap.close, snap.tick_size
        assert entry is not None
        target = entry * (1 + sign * p.profit_markup_pct / 100)
        if view.resistance is not None and sign * (view.resistance - entry) > tick:
            target = sign * min(sign * target, sign * (view.resistance - sign * tick))
        if sign * (target - entry) < entry * p.profit_markup_pct / 200:
            self.rejected["resistance"] = self.rejected.get("resistance", 0) + 1
            return None  # a resistance leaves less than half the markup to take
        stop = entry * (1 - sign * p.stop_emergency_pct / 100)
        score = confidence(view, p) * 100
        reasons: dict[str, float | int | str | bool | None] = {
            "macd_histogram_before": before,
            "macd_histogram": now,
            "spread_pct": round(view.spread_pct, 6),
            "liquid_levels": view.liquid_levels,
            "book_imbalance": round(view.imbalance, 4),
            "support": view.support,
            "resistance": view.resistance,
            "slippage_pct": None if view.slippage_pct is None else round(view.slippage_pct, 6),
            "confidence": round(score / 100, 4),
        }
        quality: Quality = quality_of(score, p.high_score, p.medium_score)
        return Signal(
            time_ms=snap.end_ms, symbol=snap.symbol, strategy=self.name,
            side=Side.LONG if sign > 0 else Side.SHORT, entry=entry,
            stop=on_tick(stop, tick), targets=(on_tick(target, tick),), quality=quality,
            score=round(score, 2), reasons=reasons,
        )  # fmt: skip

    def exit_on_bar(self, snap: Snapshot, signal: Signal, entry: float | None) -> str | None:
        """The StopLossMonitor's two book-reading levels (the third is the hard stop)."""
        p, sign = self.params, signal.side.sign
        if entry is None or snap.close is None or snap.book is None or snap.imbalance is None:
            return None
        loss_pct = -sign * (snap.close - entry) / entry * 100
        if loss_pct < p.stop_warning_pct:
            return None
        view = read_book(snap.book, snap.imbalance, p, sign)
        held = view.support is not None and sign * (snap.close - view.support) > 0
        if loss_pct >= p.stop_critical_pct:
            return None if held and view.imbalance > 0 else "stop_critical"
        share = (view.imbalance + 1) / 2
        return None if held or share >= p.warning_bid_share else "stop_warning"
