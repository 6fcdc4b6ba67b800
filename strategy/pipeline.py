"""One symbol's indicator pipeline: recorded rows in, one `Snapshot` per closed bar out.

Trades build time bars (with footprints); depth snapshots and diffs keep a local book by the
venue's sync rule (strategy/venue.py: Binance's is the recorder's own `BookSync`), so a break in
the recorded chain invalidates the book until the next recorded snapshot: book indicators then
read None and are reset, never interpolated across the hole. The book is sampled at each bar close.
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.rows import DepthSnapshotRow, DepthUpdateRow
from indicators.absorption import Absorption, AbsorptionConfig
from indicators.bars import Bar, TimeBars
from indicators.cascade import CascadeConfig, CascadeDetector
from indicators.classic import Atr, RollingVwap, Rsi
from indicators.delta import Cvd, SwingDivergence, SwingDivergenceConfig
from indicators.footprint import FootprintImbalance, FootprintImbalanceConfig
from indicators.imbalance import BandImbalance, DepthImbalance, Ofi
from indicators.panic import PanicConfig, PanicIndex, parkinson_volatility
from indicators.types import BookState, Level
from indicators.walls import LiquidityWalls, WallConfig
from strategy.config import IndicatorParams
from strategy.snapshot import Snapshot
from strategy.venue import BINANCE, Venue, book_sync


class SymbolPipeline:
    def __init__(
        self, symbol: str, params: IndicatorParams, tick_size: float, venue: Venue = BINANCE
    ) -> None:
        p = params
        self.symbol, self.params, self.tick_size = symbol, p, tick_size
        self.bars = TimeBars(p.bar_ms, tick_size, p.footprint_row_ticks)
        self.sync = book_sync(venue, symbol)
        self.cvd = Cvd("utc_day")
        self.rolling_vwap = RollingVwap(p.vwap_window_ms)
        self.rsi, self.atr = Rsi(p.rsi_period), Atr(p.atr_period)
        self.depth_imbalance = DepthImbalance(p.book_levels)
        self.band_imbalance = BandImbalance(p.band_bps)
        self.ofi = Ofi()
        self.walls = LiquidityWalls(
            WallConfig(
                band_bps=p.wall_band_bps,
                k_mult=p.wall_k_mult,
                min_age_ms=p.wall_min_age_ms,
                baseline=p.wall_baseline,
            )
        )
        self.absorption = Absorption(AbsorptionConfig(ref_windows=p.absorption_ref_windows))
        self.panic = PanicIndex(
            PanicConfig(
                baseline_bars=p.panic_baseline_bars, cdf_min_samples=p.panic_cdf_min_samples
            )
        )
        self.cascade = CascadeDetector(
            CascadeConfig(
                k_start=p.cascade_k_start,
                baseline_s=p.cascade_baseline_s,
                min_notional=p.cascade_min_notional,
                no_new_extreme_s=p.cascade_no_new_extreme_s,
            )
        )
        min_volume = p.footprint_min_volume
        self.footprint = FootprintImbalance(
            FootprintImbalanceConfig(min_volume=min_volume, ratio=p.footprint_ratio)
        )
        self.divergence = SwingDivergence(
            SwingDivergenceConfig(left=p.divergence_pivot, right=p.divergence_pivot)
        )
        self._book_was_valid = False
        self._large = [0, 0]  # large buys, large sells in the open bar
        self._liq_seconds: dict[int, list[float]] = {}  # second -> [sell, buy] notional
        self._cascade_second = -1
        self.mark_price: float | None = None
        self.funding_rate: float | None = None
        self.open_interest: float | None = None

    # -- inputs --------------------------------------------------------------------------

    def on_trades(
        self,
        times: Sequence[int],
        prices: Sequence[float],
        qtys: Sequence[float],
        makers: Sequence[bool],
    ) -> None:
        """Trades of the open bar, in order, as parallel columns (row i of each is one
        `Trade`'s fields; the engine closes bars with `close_bars`)."""
        # zip hands out one reused tuple when the loop unpacks it: no object per trade
        self.bars.update_many(zip(times, prices, qtys, makers, strict=True))  # type: ignore[arg-type]
        threshold = self.params.large_trade_notional
        large = self._large
        for price, qty, is_buyer_maker in zip(prices, qtys, makers, strict=True):
            if price * qty >= threshold:
                large[is_buyer_maker] += 1

    def on_depth(self, row: DepthUpdateRow) -> None:
        self.sync.on_diff(row)

    def on_snapshot(self, snap: DepthSnapshotRow) -> None:
        self.sync.on_snapshot(snap)

    def on_liquidation(self, time_ms: int, is_sell: bool, notional: float) -> None:
        cell = self._liq_seconds.setdefault(time_ms // 1000, [0.0, 0.0])
        cell[0 if is_sell else 1] += notional

    def on_mark(self, mark_price: float, funding_rate: float | None) -> None:
        self.mark_price, self.funding_rate = mark_price, funding_rate

    def on_open_interest(self, open_interest: float) -> None:
        self.open_interest = open_interest

    # -- bar close -----------------------------------------------------------------------

    def close_bars(self, until_ms: int) -> list[Snapshot]:
        """Close every bar ending at or before `until_ms`; one snapshot each."""
        return [self._snapshot(bar) for bar in self.bars.advance(until_ms)]

    def _snapshot(self, bar: Bar) -> Snapshot:
        snap = Snapshot(bar.start_ms, self.symbol, self.params.bar_ms, tick_size=self.tick_size)
        self._bar_values(snap, bar)
        self._book_values(snap, bar.end_ms)
        self._flow_values(snap, bar)
        snap.mark_price, snap.funding_rate = self.mark_price, self.funding_rate
        snap.open_interest = self.open_interest
        return snap

    def _bar_values(self, snap: Snapshot, bar: Bar) -> None:
        snap.open, snap.high, snap.low, snap.close = bar.open, bar.high, bar.low, bar.close
        snap.volume, snap.buy_volume, snap.sell_volume = bar.volume, bar.buy_volume, bar.sell_volume
        snap.delta, snap.normalized_delta = bar.delta, bar.normalized_delta
        snap.trades, snap.vwap = bar.trade_count, bar.vwap
        snap.large_buys, snap.large_sells = self._large
        self._large = [0, 0]
        self.cvd.update(bar.start_ms, bar.delta)
        snap.cvd = self.cvd.value
        if bar.vwap is not None:
            self.rolling_vwap.update(bar.end_ms - 1, bar.vwap, bar.volume)
        snap.rolling_vwap = self.rolling_vwap.value
        snap.rsi = self.rsi.update(bar.close)
        snap.atr = self.atr.update(bar.high, bar.low, bar.close)

    def _book_values(self, snap: Snapshot, now_ms: int) -> None:
        state = self._book_state(now_ms)
        if state is None:
            if self._book_was_valid:  # a gap: forget, don't carry state across it
                for indicator in (self.depth_imbalance, self.band_imbalance, self.walls):
                    indicator.reset()
            self._book_was_valid = False
            return
        self._book_was_valid = True
        snap.book_valid, snap.book = True, state
        tick = self.tick_size
        snap.best_bid, snap.best_ask = state.bids[0][0] * tick, state.asks[0][0] * tick
        snap.imbalance = self.depth_imbalance.update(state)
        snap.band_imbalance = self.band_imbalance.update(state)
        self.ofi.update(state)
        snap.ofi = self.ofi.last
        nearest = self.walls.update(state)
        snap.walls, snap.wall_events = tuple(self.walls.walls), self.walls.events
        if nearest is None:
            return
        if nearest.bid is not None:
            snap.bid_wall_price, snap.bid_wall_qty = nearest.bid.ticks * tick, nearest.bid.qty
            snap.bid_wall_bps = nearest.bid_bps
        if nearest.ask is not None:
            snap.ask_wall_price, snap.ask_wall_qty = nearest.ask.ticks * tick, nearest.ask.qty
            snap.ask_wall_bps = nearest.ask_bps

    def _book_state(self, now_ms: int) -> BookState | None:
        if not self.sync.valid:
            return None
        n, tick = self.params.book_view_levels, self.tick_size
        bid_px, bid_qty, ask_px, ask_qty = self.sync.book.top(n)
        if not bid_px or not ask_px:
            return None
        bids = [Level(round(p / tick), q) for p, q in zip(bid_px, bid_qty, strict=True)]
        asks = [Level(round(p / tick), q) for p, q in zip(ask_px, ask_qty, strict=True)]
        return BookState(now_ms, bids, asks, tick, resynced=not self._book_was_valid)

    def _flow_values(self, snap: Snapshot, bar: Bar) -> None:
        absorption = self.absorption
        snap.absorption = absorption.update(bar)
        snap.absorption_side, snap.absorption_price = absorption.side, absorption.price
        snap.absorption_impact = absorption.impact
        sell, buy = self._feed_cascade(bar)
        snap.liq_sell_notional, snap.liq_buy_notional = sell, buy
        cascade = self.cascade
        snap.cascade_side, snap.cascade_exhaustion = cascade.side, cascade.value
        snap.cascade_exhausted, snap.cascade_start_ms = cascade.exhausted, cascade.start_ms
        rv = parkinson_volatility(bar.high, bar.low) if bar.trade_count else None
        ret = bar.close - bar.open if bar.trade_count else 0.0
        liq = sell + buy
        snap.panic = self.panic.update(rv or 0.0, bar.volume, ret, liq)
        snap.panic_score, snap.panic_direction = self.panic.score, self.panic.direction
        fp = self.footprint.update(bar.footprint)
        snap.fp_buy_imbalances, snap.fp_sell_imbalances = len(fp.buy), len(fp.sell)
        snap.fp_buy_zones, snap.fp_sell_zones = len(fp.buy_zones), len(fp.sell_zones)
        if bar.trade_count and snap.cvd is not None:
            self.divergence.update(bar.high, bar.low, bar.delta, snap.cvd)
            # a regular divergence (±1) before a hidden one (±2) when a bar confirms both
            codes = (event.code for event in self.divergence.events)
            snap.divergence = min(codes, key=abs, default=0)

    def _feed_cascade(self, bar: Bar) -> tuple[float, float]:
        """Feed the cascade detector one second at a time up to the bar end (seconds without
        liquidations as zeros, as it requires); return the bar's liquidation notional.
        The per-second price is the bar close: exact for 1 s bars, coarse for longer ones."""
        first = max(self._cascade_second + 1, bar.start_ms // 1000)
        last = bar.end_ms // 1000 - 1
        sell = buy = 0.0
        price = bar.close if bar.trade_count else None
        for second in range(first, last + 1):
            s, b = self._liq_seconds.pop(second, (0.0, 0.0))
            sell, buy = sell + s, buy + b
            self.cascade.update(second * 1000 + 999, s, b, price)
        self._cascade_second = max(self._cascade_second, last)
        for stale in [s for s in self._liq_seconds if s <= last]:  # late rows: counted, dropped
            del self._liq_seconds[stale]
        return sell, buy
