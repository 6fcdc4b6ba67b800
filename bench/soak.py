"""Days in an hour: the recorder under every fault for ``--minutes N``, checked against the
simulator's ground truth.

One command runs the simulator in this process (ground truth on), the recorder (``python main.py
record``) and the strategy worker (``python main.py strategy``) as child processes under a
supervisor that restarts them, both reaching a database of their own (``flowline_soak_*`` on the
embedded cluster, or BENCH_DATABASE_URL's server) through a TCP proxy that can stop it. Many days
are compressed into the run: connections cut every 2 minutes by the exchange (the recorder
replaces them after 100 s, as it does before Binance's 24 h cut), a depth snapshot a minute, a
``top:4`` universe whose fourth symbol changes every 3 minutes, spot on (BTCUSDT, ETHUSDT),
2-minute chunks so chunks rotate, and retention (book_top, depth_snapshots: 4 minutes) dropping
them. Archiving is not run yet: it can join as one more child process beside the worker.

Faults, per 5-minute block (``BLOCK``): a WebSocket drop, a depth sequence gap, a ``kill -9``
aimed at the moment a backfill commits (a dropped aggTrade link, then the kill as soon as a
``backfill`` event is in the database), a drop storm (5 drops 3 s apart), slow REST, a second
depth gap, a plain ``kill -9``; every even block a 429 storm and a 418 ban, every odd one slow
REST twice more; every fourth block the database stopped for 60 s. All along, 1 % of the frames
sent are malformed: truncated JSON, and payloads with NaN, infinities, 1e999, ids of 10**15,
times in the year 33658. For 60 minutes that is 24 kills, 3 database stops, 12 storms, 6 bans
and 6 429 storms.

What is counted (``soak:`` line; per (market, symbol) only inside the windows the recorder was
meant to record: from 5 s after the market starts for the fixed symbols, from 60 s after a
``top:N`` promotion until the demotion for the churning ones):

- events: what the simulator emitted. aggTrades by (market, symbol, ``a``); depth diffs (the
  100 ms stream) by (market, symbol, ``u``); mark prices by (symbol, ``E``); liquidations by
  (symbol, ``E``) — the one per second Binance pushes, not those it samples out; open interest,
  which is polled, not pushed, by (symbol, 15 s slot): a slot is one event, stored when any sample
  fell in it.
- stored: events whose key is in the table; lost = events - stored.
- undeclared: lost events inside no ``data_gaps`` range of their stream (by id for trades and
  depth, by time for every stream; a gap without a symbol covers every symbol).
- duplicated: rows beyond the first for one key (two samples at one time for open interest).
- repaired_pct: aggTrade holes in ``data_gaps`` whose status is ``repaired`` and whose every id is
  stored, of all aggTrade holes.
- the closing note (before the ``soak:`` line) lists, per stream, what was lost but declared
  and why Binance gives no way to fetch it again (``UNRECOVERABLE``).
- rss_start_mb: the recorder's RSS at the end of the first 5-minute block (the process then ~1
  minute old, since kills restart it); rss_end_mb: the last process's RSS just before the final
  stop (of a similar age); fd_end: its open file descriptors then. Its asyncio tasks at both
  moments are in the report's lines (a leak would grow them).

    .venv/bin/python bench/soak.py --minutes 10
    .venv/bin/python bench/soak.py             # 60 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import random
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recorder import bench_cluster  # noqa: E402
from bench.recorder_e2e import free_port  # noqa: E402
from bench.soak_ledger import StreamCount, Windows, account, trade_holes  # noqa: E402
from settings import HYPERTABLES  # noqa: E402
from sim.server import Simulator  # noqa: E402
from strategy.strategies import REGISTRY  # noqa: E402
from tests.db_fixtures import Cluster, create_database, drop_database  # noqa: E402
from tests.integration.recorder.tcp_proxy import TcpProxy  # noqa: E402

log = logging.getLogger("soak")

CORE = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # always in the top 4
CHURN = ["BNBUSDT", "XRPUSDT", "ADAUSDT"]  # one at a time is the fourth
SPOT = ["BTCUSDT", "ETHUSDT"]
BLOCK = 300.0  # s: one "day" of faults
CHURN_EVERY = 180.0
EXCHANGE_CUT = 120.0  # the exchange cuts every connection after this many seconds
WARMUP_MS = 5_000
PROMOTION_SETTLE_MS = 60_000  # a promoted symbol counts from then (refresh 15 s + subscribe)
DB_STOP = 60.0
MALFORMED_SHARE = 0.01
PYTHON = str(ROOT / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():
    PYTHON = sys.executable

# Truncated frames go to each kind of stream about as often as it sends frames: 4 depth streams
# at 10/s, aggTrades at a few per second per symbol, one mark-price array a second.
TRUNCATED = {"depth": 60, "aggTrade": 37, "markPrice": 3}
POISON = [  # valid JSON a recorder must refuse, one field at a time
    ("aggTrade", {"p": "NaN"}),
    ("aggTrade", {"q": "Infinity"}),
    ("aggTrade", {"p": "1e999"}),
    ("aggTrade", {"a": 10**15}),
    ("aggTrade", {"T": 10**15}),
    ("markPrice", {"p": "inf"}),
    ("aggTrade", {"q": "-1e999"}),
    ("depth", {"u": 10**15 + 1}),
    ("depth", {"b": [["NaN", "1.0"]]}),
]


@dataclass
class Child:
    """A supervised child process: restarted whenever it ends unless we are stopping it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: IO[bytes]
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    crashes: list[int] = field(default_factory=list)  # exit codes of ends we did not cause

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log
        )
        self.starts += 1

    async def kill(self) -> None:
        """``kill -9`` and start again, as a supervisor (systemd, Docker) does."""
        await self._end(signal.SIGKILL)
        await asyncio.sleep(1.0)  # RestartSec
        await self.start()

    async def stop(self) -> int | None:
        return await self._end(signal.SIGTERM)

    async def _end(self, sig: int) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(sig)
        try:
            return await asyncio.wait_for(proc.wait(), 90)
        except TimeoutError:
            proc.kill()
            return await proc.wait()

    async def watch(self) -> None:
        """Restart it when it ended on its own (a crash the report lists)."""
        while True:
            await asyncio.sleep(1.0)
            if self.proc is not None and self.proc.returncode is not None:
                self.crashes.append(self.proc.returncode)
                log.warning("%s ended on its own (exit %s): restarting", self.name, self.crashes)
                await self.start()

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kb) / 1024

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    async def tasks(self) -> int:
        """Its asyncio tasks, from its /metrics (asked for up to 10 s: it may be restarting)."""
        url = f"http://127.0.0.1:{self.env['METRICS_PORT']}/metrics"
        async with aiohttp.ClientSession() as http:
            for _ in range(10):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url) as response:
                        text = await response.text()
                    for family in text_string_to_metric_families(text):
                        if family.name == "flowline_asyncio_tasks":
                            return int(family.samples[0].value)
                await asyncio.sleep(1.0)
        return -1

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@dataclass
class Soak:
    sim: Simulator
    db: asyncpg.Connection  # direct, not through the proxy
    proxy: TcpProxy
    recorder: Child
    worker: Child
    windows: Windows = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    rss: list[tuple[float, float]] = field(default_factory=list)
    churned: str = CHURN[0]

    # ---- faults --------------------------------------------------------------------------------

    async def ws_drop(self) -> None:
        self.sim.faults.drop_connections()
        self.faults["ws_drop"] += 1

    async def drop_storm(self) -> None:
        for _ in range(5):
            self.sim.faults.drop_connections()
            await asyncio.sleep(3.0)
        self.faults["drop_storm"] += 1

    async def depth_gap(self) -> None:
        self.sim.faults.skip_depth_ids(random.choice(CORE), 3)
        self.faults["depth_gap"] += 1

    async def kill(self) -> None:
        await self.recorder.kill()
        self.faults["kill"] += 1

    async def kill_at_backfill(self) -> None:
        """Drop the aggTrade link; kill -9 the moment the backfill of the hole is committed."""
        since = await self.db.fetchval("SELECT now()")
        self.sim.faults.drop_connections(route="market")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            n = await self.db.fetchval(
                "SELECT count(*) FROM recorder_events WHERE kind = 'backfill' AND time > $1", since
            )
            if n:
                self.faults["kill_at_backfill"] += 1
                break
            await asyncio.sleep(0.05)
        await self.kill()

    async def db_stop(self) -> None:
        await self.proxy.cut()
        await asyncio.sleep(DB_STOP)
        await self.proxy.restore()
        self.faults["db_stop_60s"] += 1

    async def storm_429(self) -> None:
        self.sim.faults.rest_error(429, 12, retry_after=2)
        self.faults["429_storm"] += 1

    async def ban_418(self) -> None:
        self.sim.faults.rest_error(418, 1, retry_after=20)
        self.faults["418_ban"] += 1

    async def slow_rest(self) -> None:
        self.sim.faults.slow_rest(2.0, count=10)
        self.faults["slow_rest"] += 1

    def block(self, i: int) -> list[tuple[float, Callable[[], Awaitable[None]]]]:
        """One 5-minute "day" of faults: (offset s, fault)."""
        steps: list[tuple[float, Callable[[], Awaitable[None]]]] = [
            (20, self.ws_drop),
            (40, self.depth_gap),
            (60, self.kill_at_backfill),
            (90, self.storm_429 if i % 2 == 0 else self.slow_rest),
            (110, self.drop_storm),
            (130, self.slow_rest),
            (150, self.db_stop if i % 4 == 0 else self.depth_gap),
            (225, self.kill),
            (250, self.ban_418 if i % 2 == 0 else self.slow_rest),
            (275, self.ws_drop),
        ]
        return steps

    # ---- the market ----------------------------------------------------------------------------

    def open_window(self, market: str, symbol: str, delay_ms: int) -> None:
        self.windows.setdefault((market, symbol), []).append((self.sim.now + delay_ms, 2**62))

    def close_window(self, market: str, symbol: str) -> None:
        spans = self.windows[market, symbol]
        spans[-1] = (spans[-1][0], self.sim.now)

    async def churn(self) -> None:
        """Every CHURN_EVERY s the fourth symbol of the top 4 is another one."""
        for nxt in itertools.cycle(CHURN[1:] + CHURN[:1]):
            await asyncio.sleep(CHURN_EVERY)
            self.sim.set_quote_volume(nxt, "5e9")
            self.sim.set_quote_volume(self.churned, "1e8")
            self.close_window("usdm", self.churned)
            self.open_window("usdm", nxt, PROMOTION_SETTLE_MS)
            self.churned = nxt
            self.faults["universe_change"] += 1

    async def malformed(self) -> None:
        """1 % of the frames sent, every second: half truncated JSON, half poisoned values."""
        frames = self.sim.hub.frames
        poison = itertools.cycle(POISON)
        owed = 0.0
        while True:
            await asyncio.sleep(1.0)
            owed += (self.sim.hub.frames - frames) * MALFORMED_SHARE
            frames = self.sim.hub.frames
            n, owed = int(owed), owed - int(owed)
            if n == 0:
                continue
            kind = random.choices(*zip(*TRUNCATED.items(), strict=True))[0]
            self.sim.faults.malformed_frames(n - n // 2, _stream(kind, random.choice(CORE)))
            for _ in range(n // 2):
                kind, fields = next(poison)
                self.sim.faults.poison_frames(_stream(kind, random.choice(CORE)), fields)
            self.faults["malformed_frames"] += n

    def sample_rss(self, at: float) -> None:
        with contextlib.suppress(OSError, AssertionError, StopIteration):
            self.rss.append((at, self.recorder.rss_mb()))


def _stream(kind: str, symbol: str) -> str:
    if kind == "markPrice":
        return "!markPrice@arr@1s"  # the recorder reads the all-market array
    if kind == "depth":
        return f"{symbol.lower()}@depth@100ms"
    return f"{symbol.lower()}@aggTrade"


@dataclass
class Result:
    minutes: float
    counts: list[StreamCount]
    holes: dict[str, Any]
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    fd_start: int
    fd_end: int
    tasks_start: int
    tasks_end: int
    faults: dict[str, int]
    recorder_crashes: list[int]
    worker_crashes: list[int]
    recorder_exit: int | None
    notes: list[str]

    def total(self, attr: str) -> int:
        return sum(getattr(c, attr) for c in self.counts)

    def line(self) -> str:
        return (
            f"soak: minutes={self.minutes:g} events={self.total('events')}"
            f" stored={self.total('stored')} lost={self.total('lost')}"
            f" undeclared={self.total('undeclared')} duplicated={self.total('duplicated')}"
            f" repaired_pct={self.holes['pct']:.1f} rss_start_mb={self.rss_start_mb:.0f}"
            f" rss_end_mb={self.rss_end_mb:.0f} fd_end={self.fd_end}"
        )


def recorder_env(sim: Simulator, db_url: str, spool: Path) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": db_url,
        "BINANCE_WS_URL": sim.ws_url,
        "BINANCE_REST_URL": sim.http_url,
        "MARKETS": "futures,spot",
        "BINANCE_SPOT_WS_URL": sim.spot_ws_url,
        "BINANCE_SPOT_REST_URL": sim.http_url,
        "SYMBOLS": "top:4",
        "UNIVERSE_REFRESH": "15",
        "METRICS_PORT": str(free_port()),  # the soak reads its task count there
        "SPOOL_DIR": str(spool),
        "OI_POLL_INTERVAL": "3",
        "DEPTH_SNAPSHOT_INTERVAL": "60",
        "CONNECTION_MAX_AGE": "100",
        "RETENTION": "book_top=4m,depth_snapshots=4m",
        "LOG_LEVEL": "INFO",
    }


def worker_config(path: Path) -> Path:
    lines = [
        "[worker]",
        f"symbols = {CORE!r}".replace("'", '"'),
        'executor = "paper"', 'warmup = "5m"', "metrics_port = 0",
        "[indicators]",
        'bar = "10s"', "panic_baseline_bars = 30", "panic_cdf_min_samples = 30",
        "absorption_ref_windows = 10", "cascade_baseline_s = 300",
        "[strategies]",
    ]  # fmt: skip
    for name in sorted(REGISTRY):
        lines += [f"[strategies.{name}]", "enabled = true"]
    path.write_text("\n".join(lines) + "\n")
    return path


async def soak_database(cluster: Cluster, name: str) -> str:
    """A migrated database of the soak's own, its hypertables in 2-minute chunks (they rotate)."""
    url = await create_database(cluster, name)
    conn = await asyncpg.connect(url)
    try:
        for table in HYPERTABLES:
            await conn.execute(
                "SELECT set_chunk_time_interval($1::regclass, INTERVAL '2 minutes')", table
            )
    finally:
        await conn.close()
    return url


async def run_soak(minutes: float, cluster: Cluster, workdir: Path, keep: bool = False) -> Result:
    name = f"flowline_soak_{secrets.token_hex(3)}"
    url = await soak_database(cluster, name)
    log.info("soak database %s, logs in %s", name, workdir)
    try:
        return await _run(minutes, url, workdir)
    finally:
        if not keep:
            await drop_database(cluster, name)


async def _run(minutes: float, url: str, workdir: Path) -> Result:
    symbols = CORE + CHURN
    async with (
        Simulator(
            symbols, seed=23, rate=20, record_truth=True, paused=True, spot_symbols=SPOT,
            ban_seconds=30,
        ) as sim,
    ):  # fmt: skip
        for s, v in zip(symbols, ["9e9", "8e9", "7e9", "5e9", "1e8", "1e8"], strict=True):
            sim.set_quote_volume(s, v)
        sim.faults.shorten_connection_age(EXCHANGE_CUT)
        proxy = TcpProxy.for_url(url)
        await proxy.start()
        db = await asyncpg.connect(url)
        with (
            (workdir / "recorder.log").open("ab") as rlog,
            (workdir / "worker.log").open("ab") as wl,
        ):
            env = recorder_env(sim, proxy.url(url), workdir / "spool")
            wenv = os.environ | {
                "DATABASE_URL": proxy.url(url),
                "STRATEGY_CONFIG": str(worker_config(workdir / "strategy.toml")),
            }
            soak = Soak(
                sim, db, proxy,
                Child("recorder", [PYTHON, "main.py", "record"], env, rlog),
                Child("worker", [PYTHON, "main.py", "strategy"], wenv, wl),
            )  # fmt: skip
            try:
                return await _drive(soak, minutes)
            finally:
                for child in (soak.recorder, soak.worker):
                    await child._end(signal.SIGKILL)
                await db.close()
                await proxy.close()


async def _drive(soak: Soak, minutes: float) -> Result:
    sim, seconds = soak.sim, minutes * 60
    await soak.recorder.start()
    await _eventually(soak.db, "SELECT count(*) FROM recorder_events WHERE kind = 'start'", 30)
    await asyncio.sleep(3.0)  # every connection (futures and spot) subscribed
    sim.resume()
    for symbol in [*CORE, CHURN[0]]:
        soak.open_window("usdm", symbol, WARMUP_MS)
    for symbol in SPOT:
        soak.open_window("spot", symbol, WARMUP_MS)
    await soak.worker.start()
    started = time.monotonic()
    background = [
        asyncio.create_task(c) for c in (soak.churn(), soak.malformed(), soak.recorder.watch())
    ]
    background.append(asyncio.create_task(soak.worker.watch()))
    rss_start, fd_start, tasks_start = 0.0, 0, 0
    try:
        for i in itertools.count():
            block_start = i * BLOCK
            if block_start >= seconds:
                break
            for offset, fault in soak.block(i):
                at = block_start + offset
                if at >= seconds - 30:  # the last 30 s: no new fault
                    break
                await _sleep_until(started + at, soak)
                log.info("t=%4.0fs fault %s", time.monotonic() - started, fault.__name__)
                await fault()
            if i == 0:
                await _sleep_until(started + min(BLOCK, seconds) - 10, soak)
                rss_start, fd_start = soak.recorder.rss_mb(), soak.recorder.fds()
                tasks_start = await soak.recorder.tasks()
        await _sleep_until(started + seconds, soak)
    finally:
        for task in background:
            task.cancel()
    rss_end, fd_end = soak.recorder.rss_mb(), soak.recorder.fds()
    tasks_end = await soak.recorder.tasks()
    notes = await _settle(soak)
    for market, symbol in soak.windows:
        spans = soak.windows[market, symbol]
        if spans[-1][1] == 2**62:
            soak.close_window(market, symbol)
    recorder_exit = await soak.recorder.stop()
    await soak.worker.stop()
    truths = {"usdm": sim.truth, "spot": sim.spot_truth}
    counts = await account(
        soak.db, {k: v for k, v in truths.items() if v is not None}, soak.windows
    )
    holes = await trade_holes(soak.db)
    return Result(
        minutes, counts, holes, rss_start, rss_end, max(mb for _, mb in soak.rss), fd_start, fd_end,
        tasks_start, tasks_end,
        dict(soak.faults),
        soak.recorder.crashes, soak.worker.crashes, recorder_exit, notes,
    )  # fmt: skip


async def _settle(soak: Soak) -> list[str]:
    """Faults off, the recorder receives again, the market stops, holes close (or not)."""
    soak.sim.faults.clear()
    soak.sim.faults.shorten_connection_age(EXCHANGE_CUT)
    await asyncio.sleep(10.0)  # reconnected, a trade per symbol shows any trailing hole
    soak.sim.pause()
    await asyncio.sleep(2.0)
    try:
        await _eventually(
            soak.db, "SELECT count(*) = 0 FROM data_gaps WHERE status = 'open'", 120, value=True
        )
        return []
    except TimeoutError:
        return ["gaps still open 120 s after the market stopped"]


async def _eventually(db: asyncpg.Connection, sql: str, within: float, value: Any = None) -> None:
    deadline = time.monotonic() + within
    while True:
        got = await db.fetchval(sql)
        if (value is None and got) or (value is not None and got == value):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(sql)
        await asyncio.sleep(0.5)


async def _sleep_until(at: float, soak: Soak) -> None:
    while (left := at - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 10.0))
        soak.sample_rss(time.monotonic())


# Why a declared hole of each stream stays a hole: what Binance offers to fetch it again.
UNRECOVERABLE = {
    "agg_trades": "recoverable: /fapi/v1/aggTrades?fromId= serves the last 48 h (spot: all)",
    "depth_updates": "no REST history of diffs: a fresh snapshot rebuilds the book, the diffs stay"
    " missing",
    "mark_prices": "no 1 s history: /fapi/v1/markPriceKlines has 1 m candles at best",
    "force_orders": "no market-wide liquidation history over REST (only the stream)",
    "open_interest": "/futures/data/openInterestHist has 5 m samples at best",
}


def closing_note(r: Result) -> list[str]:
    """What was lost but declared, per stream, and why it cannot be fetched again."""
    lines = []
    for c in r.counts:
        declared = c.lost - c.undeclared
        if declared:
            lines.append(f"lost but declared: {c.stream} {declared} ({UNRECOVERABLE[c.stream]})")
    return lines


def report(r: Result) -> str:
    lines = [
        f"faults: {r.faults}",
        f"recorder ended on its own: {r.recorder_crashes or 'never'};"
        f" worker: {r.worker_crashes or 'never'}; recorder's final exit code {r.recorder_exit}",
        f"recorder RSS peak {r.rss_peak_mb:.0f} MB; fd start/end {r.fd_start}/{r.fd_end};"
        f" asyncio tasks start/end {r.tasks_start}/{r.tasks_end}",
        f"aggTrade holes {r.holes['holes']}, repaired {r.holes['repaired']},"
        f" not repaired: {r.holes['left'][:5]}",
    ]
    for c in r.counts:
        lines.append(
            f"{c.stream:<14} events={c.events} stored={c.stored} lost={c.lost}"
            f" undeclared={c.undeclared} duplicated={c.duplicated}"
            f" lost_by={dict(c.lost_by_symbol)} undeclared_e.g.={c.undeclared_sample}"
        )
    lines += closing_note(r) + r.notes
    lines.append(r.line())
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--workdir", type=Path, default=ROOT / "var" / "soak")
    p.add_argument("--keep", action="store_true", help="keep the soak database afterwards")
    args = p.parse_args()
    if args.minutes <= 0:
        p.error("--minutes must be > 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("sim").setLevel(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run_soak(args.minutes, bench_cluster(), args.workdir, args.keep))
    print(report(result), flush=True)


if __name__ == "__main__":
    main()
