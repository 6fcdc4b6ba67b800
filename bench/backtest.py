"""Strategy worker speed, measured in one run: backtest throughput and live signal latency.

1. Backtest: a fresh database on the embedded TimescaleDB (or BENCH_DATABASE_URL) is filled by
   binary COPY with a synthetic recorded session of ``--minutes`` minutes for BTCUSDT and ETHUSDT:
   agg_trades (a random walk on the tick grid, both sides, lognormal sizes, bursty arrivals and
   regimes with liquidation waves), a depth diff every 100 ms chained by U/u/pu and consistent with
   the trades, depth snapshots at the start and every 30 min, mark prices every second, force
   orders and open interest. Then ``run_backtest`` with the default StrategyConfig (1 min bars,
   every registered strategy, paper executor) end to end; a copy of its loop that times
   ``fetch_range`` and ``Engine.feed`` separately; and the engine alone on the pre-fetched rows.
2. Live: ``main.py sim`` (speed 1, a script of episodes) and ``main.py record`` as processes, the
   live worker in this process with 1 s bars, for ``--live-seconds``. Latency of each worker step
   (the flowline_strategy_latency_seconds histogram, and exactly from the rows each step read), and
   of each signal row (``signals.created_at``) from the newest row of its bar: from the recorder
   receiving it, and from the recorder's commit of it (the first ``flowline_rows`` NOTIFY of its
   table at or after it was received, as seen on a LISTEN connection: an upper bound).

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --minutes 30 --live-seconds 30 --profile

Everything stays on 127.0.0.1; the scratch databases are dropped at the end. About 3-4 minutes
with the defaults. Numbers are reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import cProfile
import io
import itertools
import json
import math
import os
import pstats
import random
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recorder import bench_cluster  # noqa: E402
from collector.rows import COLUMNS  # noqa: E402
from strategy import metrics  # noqa: E402
from strategy.backtest import WINDOW_MS, BacktestResult, run_backtest  # noqa: E402
from strategy.cli import run_strategy  # noqa: E402
from strategy.config import IndicatorParams, StrategyConfig  # noqa: E402
from strategy.engine import Engine, Outputs  # noqa: E402
from strategy.source import (  # noqa: E402
    SymbolRows,
    data_bounds,
    fetch_range,
    infer_tick_size,
    setup_reader,
)
from strategy.worker import Worker  # noqa: E402
from tests.db_fixtures import Cluster, create_database, drop_database  # noqa: E402

START_MS = 1_789_999_200_000  # 2026-09-21 14:00 UTC: a fixed start, reproducible sessions
STEP_MS = 100  # one depth diff per symbol per step (depth@100ms)
SNAPSHOT_EVERY_MS = 1_800_000
SNAPSHOT_LEVELS = 1000  # /fapi/v1/depth?limit=1000
TARGET_TRADES_PER_S = 500_000  # issue 18
TARGET_P99_S = 0.300
TARGET_FROM_COMPLETION_P99_S = 0.050  # issue 18: from the commit the worker reacts to


# ---- a synthetic recorded session -------------------------------------------------------------


@dataclass(frozen=True)
class MarketSpec:
    symbol: str
    tick: float
    decimals: int
    price: float
    trades_per_s: float  # mean over normal regimes
    trade_qty: float  # median aggTrade size
    level_qty: float  # median resting size per book level
    lot_decimals: int = 3


SPECS = (
    MarketSpec("BTCUSDT", 0.1, 1, 65_000.0, 260.0, 0.012, 1.5),
    MarketSpec("ETHUSDT", 0.01, 2, 3_500.0, 190.0, 0.25, 30.0),
)


@dataclass(frozen=True)
class Regime:
    intensity: float  # × the spec's trade rate
    buy_prob: float
    liquidations_per_s: float  # probability of a force order in a second
    liquidated_side: str = "SELL"  # SELL: longs liquidated (a sell-off)


REGIMES = (  # (weight, regime), one drawn per minute
    (0.78, Regime(1.0, 0.5, 0.01)),
    (0.06, Regime(1.4, 0.62, 0.02, "BUY")),
    (0.06, Regime(1.4, 0.38, 0.02)),
    (0.05, Regime(3.0, 0.2, 0.8)),
    (0.05, Regime(3.0, 0.8, 0.8, "BUY")),
)


COPY_TABLES = (
    "agg_trades", "depth_updates", "depth_snapshots", "mark_prices", "force_orders",
    "open_interest",
)  # fmt: skip


@dataclass
class Tables:
    """Rows per table in COPY column order; times as integer ms (the loader has the ms codec)."""

    rows: dict[str, list[tuple]] = field(default_factory=lambda: {t: [] for t in COPY_TABLES})


class SyntheticMarket:
    """One symbol's market: a mid price in ticks with the touch at (mid, mid + 1), a book kept
    as ticks -> qty so every diff is consistent with the trades, and ids that chain."""

    def __init__(self, spec: MarketSpec, seed: int) -> None:
        self.spec, self.rng = spec, random.Random(seed)
        self.mid = round(spec.price / spec.tick)
        self.bids = {self.mid - k: self._level_qty() for k in range(SNAPSHOT_LEVELS)}
        self.asks = {self.mid + 1 + k: self._level_qty() for k in range(SNAPSHOT_LEVELS)}
        self.agg_id, self.trade_id, self.update_id = 1_000_000, 5_000_000, 9_000_000_000
        self.regime = REGIMES[0][1]
        self.wall: tuple[bool, int, float, int] | None = None  # is_bid, ticks, qty, until_ms
        self.open_interest = 80_000.0

    def _level_qty(self) -> float:
        qty = self.rng.lognormvariate(math.log(self.spec.level_qty), 1.0)
        return round(max(qty, 10**-self.spec.lot_decimals), self.spec.lot_decimals)

    def _price(self, ticks: int) -> float:
        return round(ticks * self.spec.tick, self.spec.decimals)

    def generate(self, lo: int, hi: int, out: Tables) -> None:
        """Every row with time in [lo, hi), in time order per table."""
        for t in range(lo, hi, STEP_MS):
            if t % 60_000 == 0:
                self.regime = self._draw_regime()
            if t % 1000 == 0:
                self._second(t, out)
            if t % SNAPSHOT_EVERY_MS == 0:
                self._snapshot(t, out, "start" if t == START_MS else "periodic")
            old_mid = self.mid
            self._trades(t, out)
            self._diff(t + STEP_MS - 1, old_mid, out)

    def _draw_regime(self) -> Regime:
        pick = self.rng.random()
        for weight, regime in REGIMES:
            pick -= weight
            if pick <= 0:
                return regime
        return REGIMES[0][1]

    def _trades(self, t: int, out: Tables) -> None:
        spec, rng, rows = self.spec, self.rng, out.rows["agg_trades"]
        mean = spec.trades_per_s * self.regime.intensity * STEP_MS / 1000
        n = int(rng.expovariate(1 / mean) + 0.5)  # bursty: exponential, not Poisson
        median = math.log(spec.trade_qty * (1.5 if self.regime.intensity > 2 else 1.0))
        for offset in sorted(rng.randrange(STEP_MS - 1) for _ in range(n)):
            buy = rng.random() < self.regime.buy_prob
            price = self._price(self.mid + 1 if buy else self.mid)
            qty = round(max(rng.lognormvariate(median, 1.3), 0.001), spec.lot_decimals)
            fills = 1 + int(rng.expovariate(0.7))
            first = self.trade_id + 1
            self.trade_id += fills
            self.agg_id += 1
            at = t + offset
            received = at + 6 + rng.randrange(20)
            rows.append((at, spec.symbol, "usdm", self.agg_id, price, qty, qty, first,
                         self.trade_id, not buy, at + 1, received, None))  # fmt: skip
            if rng.random() < 0.05:  # the aggressor eats the touch now and then
                self.mid += 1 if buy else -1

    def _diff(self, at: int, old_mid: int, out: Tables) -> None:
        rng, bids, asks = self.rng, {}, {}
        mid = self.mid
        for k in range(mid + 1, old_mid + 1):  # the price fell: bids above it are gone
            bids[k] = 0.0
        for k in range(old_mid + 1, mid + 1):  # the price rose: asks below it are gone
            asks[k] = 0.0
        bids[mid], asks[mid + 1] = self._level_qty(), self._level_qty()
        for side, sign, touch in ((bids, -1, mid), (asks, 1, mid + 1)):
            for _ in range(rng.randint(3, 12)):
                level = touch + sign * min(int(rng.expovariate(1 / 10)), 400)
                side[level] = 0.0 if level != touch and rng.random() < 0.25 else self._level_qty()
        self._wall_changes(at, bids, asks)
        self._apply(bids, self.bids)
        self._apply(asks, self.asks)
        first, pu = self.update_id + 1, self.update_id
        self.update_id += rng.randint(len(bids) + len(asks), 80)
        bid_px = sorted(bids, reverse=True)
        ask_px = sorted(asks)
        out.rows["depth_updates"].append((
            at, self.spec.symbol, "usdm", at - 1, first, self.update_id, pu,
            [self._price(k) for k in bid_px], [bids[k] for k in bid_px],
            [self._price(k) for k in ask_px], [asks[k] for k in ask_px],
            at + 5 + rng.randrange(25), None,
        ))  # fmt: skip

    def _wall_changes(self, at: int, bids: dict[int, float], asks: dict[int, float]) -> None:
        """A large resting order every few minutes that is eaten or cancelled down."""
        if self.wall is None:
            if self.rng.random() < 1 / 1500:  # ~ every 2.5 min
                is_bid = self.rng.random() < 0.5
                ticks = self.mid - 8 if is_bid else self.mid + 9
                qty = 25 * self.spec.level_qty
                self.wall = (is_bid, ticks, qty, at + self.rng.randrange(60_000, 240_000))
                (bids if is_bid else asks)[ticks] = qty
            return
        is_bid, ticks, qty, until = self.wall
        crossed = ticks > self.mid if is_bid else ticks <= self.mid
        side = bids if is_bid else asks
        if crossed:  # traded through: the diff that moved the touch removed it
            self.wall = None
        elif at >= until:  # cancelled
            side[ticks] = 0.0
            self.wall = None
        elif self.rng.random() < 0.05:
            qty = round(qty * 0.9, self.spec.lot_decimals)
            self.wall = (is_bid, ticks, qty, until)
            side[ticks] = qty
        elif ticks in side:
            side[ticks] = qty  # a random change at the wall's level must not erase it

    @staticmethod
    def _apply(changes: dict[int, float], book: dict[int, float]) -> None:
        for level, qty in changes.items():
            if qty:
                book[level] = qty
            else:
                book.pop(level, None)

    def _snapshot(self, t: int, out: Tables, reason: str) -> None:
        """Fetched between two diffs: it ends at the last diff's u, so the next diff bridges."""
        at = t - STEP_MS // 2 if t > START_MS else t
        bid_px = sorted(self.bids, reverse=True)[:SNAPSHOT_LEVELS]
        ask_px = sorted(self.asks)[:SNAPSHOT_LEVELS]
        out.rows["depth_snapshots"].append((
            at + 30, self.spec.symbol, "usdm", self.update_id, at, at, reason,
            [self._price(k) for k in bid_px], [self.bids[k] for k in bid_px],
            [self._price(k) for k in ask_px], [self.asks[k] for k in ask_px], at + 30, None,
        ))  # fmt: skip

    def _second(self, t: int, out: Tables) -> None:
        rng, symbol, mark = self.rng, self.spec.symbol, self._price(self.mid)
        funding_at = t - t % 28_800_000 + 28_800_000
        out.rows["mark_prices"].append(
            (t, symbol, mark, round(mark * 0.9999, 4), mark, 0.0001, funding_at, None, t + 8, None)
        )
        if rng.random() < self.regime.liquidations_per_s:
            side = self.regime.liquidated_side
            qty = round(rng.lognormvariate(math.log(self.spec.trade_qty * 20), 1.0), 3)
            price = self._price(self.mid + (-15 if side == "SELL" else 15))
            out.rows["force_orders"].append((t + 3, symbol, side, "LIMIT", "IOC", qty, price,
                                             self._price(self.mid), "FILLED", qty, qty, t + 2,
                                             t + 12, None))  # fmt: skip
        if t % 10_000 == 0:
            self.open_interest += rng.gauss(0, 50)
            out.rows["open_interest"].append((t, symbol, round(self.open_interest, 3), t, None))


async def load_session(dsn: str, minutes: int) -> tuple[dict[str, int], float, float]:
    """Generate and COPY the session window by window: (rows per table, generate s, COPY s)."""
    markets = [SyntheticMarket(spec, seed=i + 1) for i, spec in enumerate(SPECS)]
    counts = dict.fromkeys(COPY_TABLES, 0)
    generate_s = copy_s = 0.0
    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "off"})
    try:
        await setup_reader(conn)
        end = START_MS + minutes * 60_000
        for lo in range(START_MS, end, WINDOW_MS):
            began = time.perf_counter()
            out = Tables()
            for market in markets:
                market.generate(lo, min(lo + WINDOW_MS, end), out)
            copied = time.perf_counter()
            generate_s += copied - began
            for table, rows in out.rows.items():
                await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
                counts[table] += len(rows)
            copy_s += time.perf_counter() - copied
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return counts, generate_s, copy_s


# ---- scratch databases ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_database(cluster: Cluster, label: str) -> AsyncIterator[str]:
    """A migrated database with a random name, dropped on the way out (as the test fixtures)."""
    name = f"flowline_bench_{label}_{secrets.token_hex(4)}"
    try:
        yield await create_database(cluster, name)
    finally:
        await drop_database(cluster, name)


# ---- 1. backtest throughput -------------------------------------------------------------------


@dataclass
class Split:
    """The backtest loop with its two halves timed apart."""

    trades: int = 0
    bounds_s: float = 0.0  # data_bounds and the tick sizes, before the first window
    fetch_s: float = 0.0
    feed_s: float = 0.0
    signals: int = 0
    windows: list[tuple[dict[str, SymbolRows], int]] = field(default_factory=list)


async def split_backtest(dsn: str, config: StrategyConfig) -> tuple[Split, Engine]:
    """`run_backtest`'s loop (same bounds, windows and engine), timing fetch_range and
    Engine.feed separately; keeps the fetched rows for the engine-only pass."""
    split = Split()
    conn = await asyncpg.connect(dsn)
    try:
        await setup_reader(conn)
        began = time.perf_counter()
        first, last = await data_bounds(conn, config.symbols)
        assert first is not None and last is not None
        bar = config.indicators.bar_ms
        start, end = first - first % bar, last + 1
        end += -end % bar
        ticks = {s: await infer_tick_size(conn, s) for s in config.symbols}
        split.bounds_s = time.perf_counter() - began
        engine = Engine(config, ticks)
        for lo in range(start, end, WINDOW_MS):
            hi = min(lo + WINDOW_MS, end)
            began = time.perf_counter()
            rows = await fetch_range(conn, config.symbols, lo, hi)
            fetched = time.perf_counter()
            split.signals += len(engine.feed(rows, hi).signals)
            split.feed_s += time.perf_counter() - fetched
            split.fetch_s += fetched - began
            split.trades += sum(r.trade_count for r in rows.values())
            split.windows.append((rows, hi))
    finally:
        await conn.close()
    return split, engine


def engine_only(
    config: StrategyConfig, ticks: dict[str, float | None], split: Split
) -> tuple[float, int]:
    """A fresh engine over the pre-fetched windows: (seconds, signals)."""
    engine = Engine(config, ticks)
    signals = 0
    began = time.perf_counter()
    for rows, hi in split.windows:
        signals += len(engine.feed(rows, hi).signals)
    return time.perf_counter() - began, signals


@contextlib.contextmanager
def profiled() -> Iterator[cProfile.Profile]:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield profiler
    finally:
        profiler.disable()


def print_profile(stats: pstats.Stats, title: str, top: int = 15) -> None:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print(f"\ncProfile, {title} (top {top} by own time):")
    for line in lines[start : start + top + 1]:
        print("  " + line.replace(str(ROOT) + "/", ""))


async def backtest_bench(cluster: Cluster, args: argparse.Namespace) -> None:
    config = StrategyConfig(symbols=("BTCUSDT", "ETHUSDT"))  # the session generated below
    async with scratch_database(cluster, "backtest") as dsn:
        counts, generate_s, copy_s = await load_session(dsn, args.minutes)
        total = sum(counts.values())
        print(f"session: {args.minutes} min of {', '.join(config.symbols)}, "
              f"generated in {generate_s:.1f} s, COPY {total:,} rows in {copy_s:.1f} s "
              f"({total / copy_s:,.0f} rows/s)")  # fmt: skip
        print("  " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))
        result = await run_backtest(dsn, config)
        split, engine = await split_backtest(dsn, config)
        ticks = {s: p.tick_size for s, p in engine.pipelines.items()}
        alone_s, alone_signals = engine_only(config, ticks, split)
        report_backtest(config, result, split, alone_s, alone_signals)
        split.windows.clear()
        if args.profile:  # a pass of its own: the profiler's overhead must not skew the numbers
            with profiled() as profiler:
                await split_backtest(dsn, config)
            print_profile(pstats.Stats(profiler), "the backtest loop (fetch_range + Engine.feed)")


def report_backtest(
    config: StrategyConfig, result: BacktestResult, split: Split, alone_s: float, alone_signals: int
) -> None:
    rate = result.agg_trades / result.seconds
    names = ", ".join(s.name for s in config.strategies)
    print(f"\nrun_backtest, default StrategyConfig (1 min bars, strategies {names}, "
          f"{config.executor} executor):")  # fmt: skip
    print(
        f"  {result.agg_trades:,} agg trades, {result.bars:,} bars, {len(result.signals)} "
        f"signals, {len(result.trades)} closed trades in {result.seconds:.1f} s"
    )
    print(f"  end to end: {rate:>10,.0f} agg trades/s   target {TARGET_TRADES_PER_S:,}  "
          f"{'ok' if rate >= TARGET_TRADES_PER_S else 'MISSED'}")  # fmt: skip
    loop_s = split.fetch_s + split.feed_s
    print(f"  the same loop timed apart: fetch_range {split.fetch_s:.1f} s "
          f"({split.fetch_s / loop_s:.0%}, {split.trades / split.fetch_s:,.0f} trades/s), "
          f"Engine.feed {split.feed_s:.1f} s ({split.feed_s / loop_s:.0%}, "
          f"{split.trades / split.feed_s:,.0f} trades/s), before the loop (data_bounds, "
          f"tick sizes) {split.bounds_s:.1f} s")  # fmt: skip
    print(
        f"  engine alone on pre-fetched rows: {split.trades / alone_s:,.0f} agg trades/s "
        f"({alone_s:.1f} s)"
    )
    same = len(result.signals) == split.signals == alone_signals
    print(
        f"  signals in the three passes: {len(result.signals)}, {split.signals}, "
        f"{alone_signals} ({'the same' if same else 'DIFFERENT'})"
    )


# ---- 2. live signal latency -------------------------------------------------------------------

LIVE_SYMBOLS = ("BTCUSDT", "ETHUSDT")
LIVE_SCRIPT = {  # the demo's episodes, compressed so a minute holds each of them
    "repeat": True,
    "episodes": [
        {"kind": "quiet", "start": 0, "duration": 10},
        {"kind": "panic_selloff", "start": 10, "duration": 25, "symbol": "BTCUSDT",
         "peak_liquidations_per_s": 12},
        {"kind": "trend", "start": 10, "duration": 25, "symbol": "ETHUSDT", "direction": "down"},
        {"kind": "absorption", "start": 35, "duration": 20, "wall_size": 60},
        {"kind": "wall", "start": 55, "duration": 15, "side": "ask", "offset": 8, "wall_size": 40},
        {"kind": "breakout", "start": 70, "duration": 15, "direction": "up"},
    ],
}  # fmt: skip
LIVE_INDICATORS = IndicatorParams(  # 1 s bars and short baselines, as the worker's tests use
    bar_ms=1000,
    panic_baseline_bars=30,
    panic_cdf_min_samples=30,
    absorption_ref_windows=10,
    cascade_baseline_s=60,
    wall_min_age_ms=2000,
)
ROWS_CHANNEL = "flowline_rows"
_NEWEST = """
SELECT max(received_at) FROM {table} WHERE symbol = ANY($1) AND time >= $2 AND time < $3"""
# The first row received past a bar's end: the bar is complete once such a row of each stream
# is committed (the worker's horizon is the lesser of the two streams' newest times).
_FIRST_PAST = """
SELECT min(received_at) FROM {table} WHERE symbol = ANY($1) AND time >= $2 AND time < $3"""


class CommitClock:
    """When the recorder committed each flush: the arrival time of its NOTIFY, on a thread of
    its own so the worker's steps on the main loop cannot delay the timestamps."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.arrivals: dict[str, list[float]] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the LISTEN connection did not open")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.add_listener(ROWS_CHANNEL, self._note)
            self._ready.set()
            await self._stop.wait()
        finally:
            await conn.close()

    def _note(self, conn: object, pid: int, channel: str, table: str) -> None:
        self.arrivals.setdefault(table, []).append(time.time())

    def commit_of(self, table: str, received_s: float) -> float | None:
        """The first commit of `table` at or after a row was received (its own, or an earlier
        flush still in flight: an upper bound on the latency measured from it)."""
        times = self.arrivals.get(table, [])
        i = bisect.bisect_left(times, received_s)
        return times[i] if i < len(times) else None


async def start_process(work: Path, name: str, *argv: str, env: dict[str, str] | None = None
                        ) -> asyncio.subprocess.Process:  # fmt: skip
    log = (work / f"{name}.log").open("wb")
    with log:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable, "main.py", *argv, cwd=ROOT, env=os.environ | (env or {}),
            stdout=asyncio.subprocess.PIPE if name == "sim" else log, stderr=log,
        )  # fmt: skip


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def market(dsn: str, work: Path, rate: float, batch_ms: int) -> AsyncIterator[None]:
    """`main.py sim` (speed 1, the script) and `main.py record` into `dsn`, as processes."""
    script = work / "script.json"
    script.write_text(json.dumps(LIVE_SCRIPT))
    sim = await start_process(work, "sim", "sim", "--symbols", ",".join(LIVE_SYMBOLS),
                              "--script", str(script), "--rate", str(rate), "--port", "0",
                              "--log-level", "WARNING")  # fmt: skip
    try:
        assert sim.stdout is not None
        url = (await asyncio.wait_for(sim.stdout.readline(), 30)).decode().strip()
        env = {
            "DATABASE_URL": dsn, "BINANCE_REST_URL": url,
            "BINANCE_WS_URL": url.replace("http://", "ws://"), "SYMBOLS": ",".join(LIVE_SYMBOLS),
            "METRICS_PORT": "0", "SPOOL_DIR": str(work / "spool"), "LOG_LEVEL": "WARNING",
            "BATCH_MAX_MS": str(batch_ms),
        }  # fmt: skip
        recorder = await start_process(work, "recorder", "record", env=env)
        try:
            yield
        finally:
            await stop_process(recorder)
    finally:
        await stop_process(sim)


@dataclass
class Step:
    commit_s: float  # wall clock right after the worker's commit (Worker.on_step)
    until_ms: int  # every bar before this boundary is done


def histogram_counts() -> dict[float, float]:
    """Cumulative bucket counts of flowline_strategy_latency_seconds (this process's worker)."""
    samples = metrics.LATENCY.collect()[0].samples
    return {float(s.labels["le"]): s.value for s in samples if s.name.endswith("_bucket")}


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """A quantile from cumulative bucket counts, interpolated inside its bucket (as PromQL)."""
    counts = [(le, after[le] - before.get(le, 0.0)) for le in sorted(after)]
    total = counts[-1][1]
    rank, lower, below = q * total, 0.0, 0.0
    for le, cumulative in counts:
        if cumulative >= rank:
            if math.isinf(le):
                return lower
            return lower + (le - lower) * (rank - below) / max(cumulative - below, 1e-9)
        lower, below = le, cumulative
    return lower


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def run_live_worker(
    dsn: str, config: StrategyConfig, seconds: float, profile: bool
) -> tuple[list[Step], dict[float, float], pstats.Stats | None]:
    """The live worker in this process for `seconds` after its first step (a catch-up over
    the warm-up history): its steps, the latency histogram then, and the profile if asked."""
    steps: list[Step] = []
    stop = asyncio.Event()

    def ready(worker: Worker, port: int) -> None:
        def on_step(out: Outputs) -> None:
            assert worker.state.processed_ms is not None
            steps.append(Step(time.time(), worker.state.processed_ms))

        worker.on_step = on_step

    task = asyncio.create_task(run_strategy(dsn, config, stop, ready))
    profiler = cProfile.Profile() if profile else None
    try:
        await wait_for(lambda: bool(steps) or task.done(), 60, "the worker's first step")
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("the worker stopped before its first step")
        before = histogram_counts()
        if profiler is not None:
            profiler.enable()
        await asyncio.sleep(seconds)
    finally:
        if profiler is not None:
            profiler.disable()
        stop.set()
        await asyncio.wait_for(task, 30)
    return steps, before, pstats.Stats(profiler) if profiler is not None else None


async def wait_for(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def newest_rows(
    conn: asyncpg.Connection, symbols: list[str], lo: int, hi: int
) -> dict[str, int]:
    """The newest received_at (ms) per stream table among rows with time in [lo, hi)."""
    out = {}
    for table in ("agg_trades", "depth_updates"):
        newest = await conn.fetchval(_NEWEST.format(table=table), symbols, lo, hi)
        if newest is not None:
            out[table] = newest
    return out


async def completion_commit(
    conn: asyncpg.Connection, symbols: list[str], at: int, clock: CommitClock
) -> float | None:
    """When the recorder committed what completed the bars before `at` (ms): the later of the
    two streams' commits of their first row past it (None: not seen)."""
    commits = []
    for table in ("agg_trades", "depth_updates"):
        first = await conn.fetchval(_FIRST_PAST.format(table=table), symbols, at, at + 10_000)
        commit = None if first is None else clock.commit_of(table, first / 1000)
        if commit is None:
            return None
        commits.append(commit)
    return max(commits)


def latencies(
    done_s: float, newest: dict[str, int], clock: CommitClock
) -> tuple[float, float | None] | None:
    """(from the recorder receiving the newest row, from the recorder committing it)."""
    if not newest:
        return None
    received = max(newest.values()) / 1000
    commits = [clock.commit_of(table, ms / 1000) for table, ms in newest.items()]
    known = [c for c in commits if c is not None]
    committed = max(known) if len(known) == len(commits) else None
    return done_s - received, None if committed is None else done_s - committed


@dataclass
class LiveNumbers:
    steps: list[tuple[float, float | None]] = field(default_factory=list)
    signals: list[tuple[float, float | None]] = field(default_factory=list)
    # s from the recorder's commit that completed the bar to the worker's commit
    step_reactions: list[float] = field(default_factory=list)
    signal_reactions: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


async def measure_live(dsn: str, steps: list[Step], clock: CommitClock, bar_ms: int
                       ) -> LiveNumbers:  # fmt: skip
    """Latencies of each step after the first (its rows: since the step before) and of each
    signal the measured steps wrote (its rows: its bar's, of its symbol)."""
    numbers = LiveNumbers()
    symbols = list(LIVE_SYMBOLS)
    conn = await asyncpg.connect(dsn)
    try:
        await setup_reader(conn)
        for before, step in itertools.pairwise(steps):
            found = latencies(step.commit_s, await newest_rows(conn, symbols, before.until_ms,
                                                               step.until_ms), clock)  # fmt: skip
            if found is not None:
                numbers.steps.append(found)
            done = await completion_commit(conn, symbols, step.until_ms, clock)
            if done is not None:
                numbers.step_reactions.append(step.commit_s - done)
        signals = await conn.fetch(
            "SELECT time, symbol, created_at FROM signals WHERE created_at > $1 ORDER BY time",
            int(steps[0].commit_s * 1000),
        )
        for at, symbol, created in signals:
            newest = await newest_rows(conn, [symbol], at - bar_ms, at)
            if (found := latencies(created / 1000, newest, clock)) is not None:
                numbers.signals.append(found)
            done = await completion_commit(conn, [symbol], at, clock)
            if done is not None:
                numbers.signal_reactions.append(created / 1000 - done)
        for table in ("agg_trades", "depth_updates", "force_orders", "indicators", "signals"):
            numbers.counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()
    return numbers


async def live_bench(
    cluster: Cluster, args: argparse.Namespace, batch_ms: int, settle_ms: int
) -> None:
    config = StrategyConfig(
        symbols=LIVE_SYMBOLS, indicators=LIVE_INDICATORS, metrics_port=0, settle_ms=settle_ms
    )
    async with scratch_database(cluster, "live") as dsn:
        clock = CommitClock(dsn)
        clock.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                async with market(dsn, Path(tmp), args.live_rate, batch_ms):
                    await asyncio.sleep(args.live_warmup)  # history for the worker's warm-up
                    steps, before, stats = await run_live_worker(
                        dsn, config, args.live_seconds, args.profile
                    )
                    after = histogram_counts()
        finally:
            clock.stop()
        numbers = await measure_live(dsn, steps, clock, config.indicators.bar_ms)
    report_live(args, config, batch_ms, steps, numbers, before, after)
    if stats is not None:
        print_profile(stats, "this process during the live run (the worker; sim and recorder "
                      "are processes of their own)")  # fmt: skip


def report_live(
    args: argparse.Namespace, config: StrategyConfig, batch_ms: int, steps: list[Step],
    numbers: LiveNumbers, before: dict[float, float], after: dict[float, float],
) -> None:  # fmt: skip
    c = numbers.counts
    print(
        f"\nlive: main.py sim (speed 1, {len(LIVE_SCRIPT['episodes'])} episodes, --rate "
        f"{args.live_rate:g}) -> main.py record (BATCH_MAX_MS={batch_ms}) -> live worker "
        f"(1 s bars, settle {config.settle_ms} ms, poll {config.poll_ms} ms), "
        f"{args.live_seconds:g} s measured after {args.live_warmup:g} s of history"
    )
    print(f"  recorded {c['agg_trades']:,} agg trades, {c['depth_updates']:,} depth diffs, "
          f"{c['force_orders']} force orders; worker: {len(steps)} steps, {c['indicators']} bars, "
          f"{c['signals']} signals")  # fmt: skip
    hist_n = after[math.inf] - before.get(math.inf, 0.0)
    print(
        f"  step, recorder received newest row -> worker commit (histogram, n={hist_n:.0f}): "
        f"p50 {bucket_quantile(before, after, 0.5) * 1000:.0f} ms, "
        f"p99 {bucket_quantile(before, after, 0.99) * 1000:.0f} ms"
    )
    print_latencies("step", numbers.steps)
    print_latencies("signal row", numbers.signals)
    for what, found in (("step", numbers.step_reactions), ("signal", numbers.signal_reactions)):
        if found:
            p99 = quantile(found, 0.99)
            verdict = "ok" if p99 <= TARGET_FROM_COMPLETION_P99_S else "MISSED"
            print(
                f"  {what}, recorder commit that completed its bar -> worker commit "
                f"(n={len(found)}): {stats_ms(found)}  target p99 <= "
                f"{TARGET_FROM_COMPLETION_P99_S * 1000:.0f} ms  {verdict}"
            )
    reactions = numbers.step_reactions
    if reactions:
        print(
            f"signal_latency: p50_ms={quantile(reactions, 0.5) * 1000:.1f}"
            f" p99_ms={quantile(reactions, 0.99) * 1000:.1f} n={len(reactions)}"
            f" signals={len(numbers.signal_reactions)}"
        )


def print_latencies(what: str, found: list[tuple[float, float | None]]) -> None:
    received = [r for r, _ in found]
    committed = [c for _, c in found if c is not None]
    if not received:
        print(f"  {what}: none measured")
        return
    print(f"  {what}, recorder received newest row of it -> worker commit (n={len(received)}): "
          f"{stats_ms(received)}")  # fmt: skip
    if committed:
        p99 = quantile(committed, 0.99)
        verdict = "ok" if p99 < TARGET_P99_S else "MISSED"
        print(
            f"  {what}, recorder commit of it -> worker commit (n={len(committed)}): "
            f"{stats_ms(committed)}  target p99 < {TARGET_P99_S * 1000:.0f} ms  {verdict}"
        )


def stats_ms(values: list[float]) -> str:
    p50, p99 = quantile(values, 0.5) * 1000, quantile(values, 0.99) * 1000
    return f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(values) * 1000:.0f} ms"


# ---- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=int, default=90, help="recorded session for the backtest")
    p.add_argument("--live-seconds", type=float, default=45.0, help="live worker, measured")
    p.add_argument("--live-warmup", type=float, default=25.0, help="recording before the worker")
    p.add_argument("--live-rate", type=float, default=400.0, help="sim book events/s per symbol")
    p.add_argument(
        "--live-configs",
        default="100:200,50:150",
        help="live runs, each BATCH_MAX_MS:settle_ms (the defaults, then a tighter pair; settle "
        "is only the fallback when no commit watermark is heard from the recorder)",
    )
    p.add_argument("--skip-backtest", action="store_true")
    p.add_argument("--skip-live", action="store_true")
    p.add_argument("--profile", action="store_true", help="+ cProfile of the backtest loop and "
                   "of the live worker (passes of their own)")  # fmt: skip
    return p.parse_args(argv)


async def main(argv: list[str]) -> None:
    args = parse_args(argv)
    cluster = bench_cluster()
    if not args.skip_backtest:
        await backtest_bench(cluster, args)
    if not args.skip_live:
        for pair in args.live_configs.split(","):
            batch_ms, settle_ms = (int(v) for v in pair.split(":"))
            await live_bench(cluster, args, batch_ms, settle_ms)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
