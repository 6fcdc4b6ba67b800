"""Throughput of the indicator library on one core.

    .venv/bin/python -m bench.indicators [--trades N] [--books N] [--repeat R]

Trades/s: a synthetic BTCUSDT-like aggTrade stream through bar building (10 s and 1 min
time bars, volume bars, all with footprints) and every trade-based indicator (CVD,
rolling CVD, session and rolling VWAP per trade; bar divergence, swing divergence,
absorption, panic, footprint imbalance, EMA, RSI, MACD, ATR per closed bar).
Book updates/s: 20-level book states through every book-based indicator (top-N,
weighted and banded OBI, weighted mid, best-level and 20-level OFI, liquidity walls).
Each figure is the best of `--repeat` runs (the least disturbed by the machine); `ok`
compares that wall-clock rate with the target. The machine is shared, so each path is also
timed by the CPU time it used (`cpu rate`: what one core does when it is not lent to other
processes) and given as a cost in bare loops over the same tuples in the same run (`bare
loops`, CPU time): both move far less with the load than the wall-clock rate. Lines start
with `indicators:` so they can be picked out of `make bench`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

if not __package__:  # run as a file: bench/ would shadow the `indicators` package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from indicators import (
    Absorption,
    AbsorptionConfig,
    Atr,
    BandImbalance,
    Bar,
    BarDivergence,
    BookState,
    Cvd,
    DepthImbalance,
    Ema,
    FootprintImbalance,
    FootprintImbalanceConfig,
    Level,
    LiquidityWalls,
    Macd,
    MultiLevelOfi,
    Ofi,
    PanicConfig,
    PanicIndex,
    RollingCvd,
    RollingVwap,
    Rsi,
    SessionVwap,
    SwingDivergence,
    TimeBars,
    Trade,
    VolumeBars,
    WallConfig,
    WeightedMid,
    parkinson_volatility,
)

TICK = 0.1
LEVELS = 20


def make_trades(n: int, seed: int = 1) -> list[Trade]:
    """~30 trades/s on average (a busy BTCUSDT minute), price random walk in ticks."""
    rng = random.Random(seed)
    t, px, out = 1_700_000_000_000, 600_000, []
    for _ in range(n):
        t += int(rng.expovariate(1 / 33))
        px += rng.choice((-1, 0, 0, 0, 1))
        out.append(Trade(t, px * TICK, rng.randint(1, 2000) / 1000, rng.random() < 0.5))
    return out


def make_books(n: int, seed: int = 2) -> list[BookState]:
    """20-level books every 100 ms (the @depth20@100ms cadence). Every 5 s a bid wall
    appears 7 ticks below the touch at a fixed price and stays for 4 s."""
    rng = random.Random(seed)
    best, wall, out = 600_000, 0, []
    for i in range(n):
        best += rng.choice((-1, 0, 0, 0, 1))
        spread = 1 if rng.random() < 0.9 else 2
        if i % 50 == 0:
            wall = best - 7
        bids = [Level(best - k, rng.randint(1, 3000) / 1000) for k in range(LEVELS)]
        asks = tuple(Level(best + spread + k, rng.randint(1, 3000) / 1000) for k in range(LEVELS))
        if i % 50 < 40 and 0 <= best - wall < LEVELS:
            bids[best - wall] = Level(wall, 40.0)
        out.append(BookState(i * 100, tuple(bids), asks, TICK, resynced=i % 10_000 == 0))
    return out


class TradePipeline:
    """Everything the strategy worker computes from trades."""

    def __init__(self) -> None:
        self.bars_10s = TimeBars(10_000, TICK)
        self.bars_1m = TimeBars(60_000, TICK, row_ticks=5)
        self.volume_bars = VolumeBars(50.0, TICK)
        self.cvd, self.cvd_5m = Cvd(), RollingCvd(300_000)
        self.vwap, self.vwap_5m = SessionVwap(), RollingVwap(300_000)
        self.absorption = Absorption(AbsorptionConfig())
        self.bar_div, self.swing = BarDivergence(), SwingDivergence()
        self.panic = PanicIndex(PanicConfig(baseline_bars=60, cdf_min_samples=60))
        self.footprint = FootprintImbalance(FootprintImbalanceConfig(min_volume=1.0))
        self.ema, self.rsi, self.macd, self.atr = Ema(20), Rsi(14), Macd(), Atr(14)

    def run(self, trades: list[Trade]) -> None:
        """The per-trade path as a live worker would run it: one `update` per trade."""
        b10, b1m, vb = self.bars_10s.update, self.bars_1m.update, self.volume_bars.update
        cvd, cvd5, vwap, vwap5 = self.cvd.update, self.cvd_5m.update, self.vwap, self.vwap_5m
        for trade in trades:
            t, p, q, m = trade
            signed = -q if m else q
            cvd(t, signed)
            cvd5(t, signed)
            vwap.update(t, p, q)
            vwap5.update(t, p, q)
            for bar in b10(trade):
                self.absorption.update(bar)
            for bar in b1m(trade):
                self.on_minute(bar)
            vb(trade)

    def run_batched(self, trades: list[Trade], batch: int = 1000) -> None:
        """The backtest path: bar builders take batches (`update_many`), the per-trade
        indicators still see every trade; bar-level results are identical."""
        for i in range(0, len(trades), batch):
            chunk = trades[i : i + batch]
            cvd, cvd5, vwap, vwap5 = self.cvd, self.cvd_5m, self.vwap, self.vwap_5m
            for t, p, q, m in chunk:
                signed = -q if m else q
                cvd.update(t, signed)
                cvd5.update(t, signed)
                vwap.update(t, p, q)
                vwap5.update(t, p, q)
            for bar in self.bars_10s.update_many(chunk):
                self.absorption.update(bar)
            for bar in self.bars_1m.update_many(chunk):
                self.on_minute(bar)
            self.volume_bars.update_many(chunk)

    def on_minute(self, bar: Bar) -> None:
        self.bar_div.update(bar.open, bar.close, bar.delta)
        self.swing.update(bar.high, bar.low, bar.delta, self.cvd.value or 0.0)
        rv = parkinson_volatility(bar.high, bar.low) or 0.0
        self.panic.update(rv, bar.volume, bar.close - bar.open)
        self.footprint.update(bar.footprint)
        self.ema.update(bar.close)
        self.rsi.update(bar.close)
        self.macd.update(bar.close)
        self.atr.update(bar.high, bar.low, bar.close)


class BookPipeline:
    """Everything the strategy worker computes from book states."""

    def __init__(self) -> None:
        self.obi = DepthImbalance(LEVELS)
        self.obi_w = DepthImbalance(LEVELS, [0.5**i for i in range(LEVELS)])
        self.band_10, self.band_50 = BandImbalance(10), BandImbalance(50)
        self.wmid = WeightedMid()
        self.ofi, self.mlofi = Ofi(window_ms=10_000), MultiLevelOfi(LEVELS)
        self.walls = LiquidityWalls(WallConfig(k_mult=5.0, min_age_ms=2000))

    def run(self, books: list[BookState]) -> None:
        parts = (self.obi, self.obi_w, self.band_10, self.band_50, self.wmid, self.ofi)
        updates = [p.update for p in (*parts, self.mlofi, self.walls)]
        for book in books:
            for update in updates:
                update(book)


def best_rate(n: int, repeat: int, run: Callable[[], None]) -> tuple[float, float]:
    """(items/s by the wall clock, items/s by this process's CPU time), best of `repeat`."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start)
    return n / wall, n / cpu


def bare_trades(trades: list[Trade]) -> None:
    """The floor of any per-trade path: iterate and unpack."""
    for _t, _p, _q, _m in trades:
        pass


def bare_books(books: list[BookState]) -> None:
    """Touch every level of both sides once: the floor of reading a book."""
    for book in books:
        for _ticks, _qty in book.bids:
            pass
        for _ticks, _qty in book.asks:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=500_000)
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as promised
    trades, books = make_trades(args.trades), make_books(args.books)
    nt, nb, r = len(trades), len(books), args.repeat
    bare_t = best_rate(nt, max(r, 10), lambda: bare_trades(trades))  # cheap: more tries
    bare_b = best_rate(nb, max(r, 10), lambda: bare_books(books))
    rows = [
        ("bare loop over the trades", None, bare_t, bare_t),
        ("trades/s  per-trade update()", 500_000,
         best_rate(nt, r, lambda: TradePipeline().run(trades)), bare_t),
        ("trades/s  batched update_many()", 500_000,
         best_rate(nt, r, lambda: TradePipeline().run_batched(trades)), bare_t),
        ("bare loop over the books", None, bare_b, bare_b),
        (f"book updates/s  ({LEVELS} levels)", 50_000,
         best_rate(nb, r, lambda: BookPipeline().run(books)), bare_b),
    ]  # fmt: skip
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"indicators: Python {platform.python_version()} on {platform.machine()}, one core, "
          f"{nt:,} trades, {nb:,} books, best of {r}{load}")  # fmt: skip
    print(f"indicators: {'path':33} {'rate':>11} {'cpu rate':>11} {'target':>9} {'ok':>3} "
          f"{'bare loops':>10}")  # fmt: skip
    for name, target, (rate, cpu_rate), (_, bare_cpu) in rows:
        ok = "-" if target is None else "yes" if rate >= target else "no"
        goal = "-" if target is None else f"{target:,}"
        print(f"indicators: {name:33} {rate:11,.0f} {cpu_rate:11,.0f} {goal:>9} {ok:>3} "
              f"{bare_cpu / cpu_rate:10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
