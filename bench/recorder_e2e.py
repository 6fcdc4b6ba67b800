"""End to end: the simulator over real sockets into ``python main.py record``, at rising rates.

For each rate: a fresh database on the embedded TimescaleDB (or BENCH_DATABASE_URL), the simulator
in blast mode (``python main.py sim --blast``: correctly chained aggTrade and depth@100ms frames,
half each, over ``--symbols`` symbols, paced at the rate in real time) and the recorder as a
subprocess with its default settings (other recorder variables pass through from the environment,
e.g. ``BATCH_MAX_MS=100``). After a warm-up it measures, over ``--seconds``:

- messages/s the recorder received and aggTrade + depth rows/s it committed (its /metrics);
- p50/p99 exchange time -> commit (its lag histogram over the window, observed right after each
  COMMIT returns, corrected by the measured offset between the simulator's clock and the wall
  clock). The simulator stamps a step's frames with the step's start and sends them when the step
  ends, so ``e2e:`` lines count from the send (``step_ms - 1`` less: aggTrade ``T`` is the step's
  start + 1 ms); the table also shows the lag from the stamp itself;
- recorder CPU % and peak RSS, and the CPU of its PostgreSQL backends (from /proc);
- then pauses the simulator, waits for the backlog to drain and checks nothing was lost: rows ==
  frames the simulator sent, aggTrade ids consecutive per symbol, the depth ``pu`` chain unbroken.

After each rate it COPYs the same rows into scratch hypertables of the same database without the
recorder (batches of 10,000, one connection), so every rate has its raw COPY rate measured under
the same load. One line per rate, then the best sustained rate against raw COPY:

    e2e: rate=R received=N rows_s=X p50_ms=A p99_ms=B cpu_pct=C kept_up=yes|no raw_copy_rows_s=Y
    e2e: saturation rows_s=X raw_copy_rows_s=Y ratio=Z processes=N

(``received`` counts the messages the recorder received in the window.) All traffic stays on
127.0.0.1; the whole run takes about 2-3 minutes with the defaults.

    .venv/bin/python bench/recorder_e2e.py
    .venv/bin/python bench/recorder_e2e.py --rates 10000,50000 --seconds 20
    .venv/bin/python bench/recorder_e2e.py --rates 50000 --profile   # + cProfile of the recorder
    .venv/bin/python bench/recorder_e2e.py --processes 2   # RECORDER_PROCESSES=2 (issue 18)

With ``--processes N`` the recorder runs as N processes sharing the symbols through leases; CPU
and RSS are summed over the parent and its children.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import math
import os
import pstats
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recorder import bench_cluster  # noqa: E402
from collector.rows import COLUMNS  # noqa: E402
from tests.db_fixtures import Cluster, create_database, drop_database  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"]
STREAM_TABLES = ("agg_trades", "depth_updates")  # what the blast feeds: one row per message
DB_NAME = "flowline_bench_e2e"
SIM_STARTUP = 0.3  # s from launch to the first step (imports + blast templates), measured
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """What one rate measured."""

    offered: float  # frames/s the simulator sent in the window
    received: float  # messages/s the recorder counted
    committed: float  # aggTrade + depth rows/s committed
    p50: float  # s, exchange time -> commit
    p99: float
    send_delay: float  # s the simulator holds a stamped frame before sending it (step - 1 ms)
    cpu: float  # % of one core
    rss_mb: float
    db_cpu: float | None  # % of one core, the recorder's PostgreSQL backends
    clock_offset_ms: float
    drain_s: float
    frames: int
    rows: int
    missing_ids: int
    duplicates: int
    chain_breaks: int
    messages: int  # the recorder received in the window
    raw_rate: float = math.nan  # rows/s raw COPY of this rate's rows, measured after it

    @property
    def lost(self) -> int:
        """Frames the simulator sent that are not rows."""
        return self.frames - self.rows

    @property
    def holes(self) -> int:
        """aggTrade ids missing inside a symbol's range, and breaks of the depth chain."""
        return self.missing_ids + self.chain_breaks


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rates", default="10000,25000,50000,75000", help="total messages/s, rising")
    p.add_argument("--seconds", type=float, default=15.0, help="measured window per rate")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    p.add_argument("--symbols", type=int, default=5, help=f"1..{len(SYMBOLS)}")
    p.add_argument("--step-ms", type=int, default=10, choices=(1, 2, 5, 10, 25, 50))
    p.add_argument("--profile", action="store_true", help="run the recorder under cProfile")
    p.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("RECORDER_PROCESSES", "1")),
        help="RECORDER_PROCESSES: recorder processes sharing the symbols (default 1)",
    )
    return p.parse_args(argv)


# ---- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (RECORDER_PROCESSES > 1: the parent and its recorders)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return found


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_by_pid(process_tree(pid)).values())


def tree_rss_mb(pid: int) -> float:
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += rss_mb(p)
    return total


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]


async def stop_process(process: asyncio.subprocess.Process, grace: float = 30) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()


class Simulators:
    """Starts blasting simulators whose clock is a little behind the wall clock (lag is measured
    from the simulator's event times, and the recorder's histogram cannot hold the negative lags a
    clock ahead would give). The simulator floors ``--start-ms`` to a whole second, so it is
    launched its start-up time before one, then its clock is set right."""

    def __init__(
        self, step_ms: int, aim_ms: float = -4, within_ms: tuple[float, float] = (-12, 0.5)
    ) -> None:
        self.step_ms = step_ms
        self.aim_ms = aim_ms
        self.within_ms = within_ms
        self.attempts = 8
        self.startup = SIM_STARTUP

    @contextlib.asynccontextmanager
    async def run(
        self, http: aiohttp.ClientSession, symbols: list[str], per_stream: float
    ) -> AsyncIterator[tuple[str, float]]:
        """Yields the simulator's base URL and its clock offset (ms, simulator - wall)."""
        process, url = await self._launch(symbols, per_stream)
        try:
            offset = await self._align(http, url)
            yield url, offset
        finally:
            await stop_process(process)

    async def _align(self, http: aiohttp.ClientSession, url: str) -> float:
        """Set the simulator's clock a few ms behind the wall clock before the recorder starts
        (its start-up time varies by 100 ms on a loaded machine): a clock ahead is paused, one
        behind is stepped forward. Returns the offset measured last (ms, simulator - wall)."""
        for _ in range(self.attempts):
            offset = await clock_offset_ms(http, url, self.step_ms)
            if self.within_ms[0] <= offset <= self.within_ms[1]:
                return offset
            if offset > self.within_ms[1]:
                await sim_post(http, url + "/sim/clock", {"paused": True})
                await asyncio.sleep((offset - self.aim_ms) / 1000)
            else:
                steps = math.ceil((self.aim_ms - offset) / self.step_ms)
                body = {"paused": True, "advance_ms": steps * self.step_ms}
                await sim_post(http, url + "/sim/clock", body)
            await sim_post(http, url + "/sim/clock", {"paused": False})
        raise RuntimeError(f"the simulator's clock stays {offset:+.0f} ms off the wall clock")

    async def _launch(
        self, symbols: list[str], per_stream: float
    ) -> tuple[asyncio.subprocess.Process, str]:
        start = math.ceil(time.time() + self.startup + 0.05)
        await asyncio.sleep(start - self.startup - time.time())
        command = [
            *(sys.executable, "main.py", "sim", "--blast", "--port", "0"),
            *("--symbols", ",".join(symbols), "--rate", str(per_stream)),
            *("--step-ms", str(self.step_ms), "--start-ms", str(start * 1000)),
            *("--log-level", "WARNING"),
        ]
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
            await asyncio.wait_for(process.stdout.readline(), 5)  # ws://, same host and port
        except BaseException:
            await stop_process(process)
            raise
        return process, url


async def start_recorder(
    database_url: str,
    sim_url: str,
    symbols: list[str],
    port: int,
    work: Path,
    profile: bool,
    processes: int = 1,
) -> asyncio.subprocess.Process:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "BINANCE_WS_URL": sim_url.replace("http://", "ws://"),
        "BINANCE_REST_URL": sim_url,
        "SYMBOLS": ",".join(symbols),
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": str(port),
        "SPOOL_DIR": str(work / "spool"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "RECORDER_PROCESSES": str(processes),
    }
    python = [sys.executable]
    if profile:
        python += ["-m", "cProfile", "-o", str(work / "recorder.prof")]
    log = (work / "recorder.log").open("wb")
    with log:
        return await asyncio.create_subprocess_exec(
            *python, "main.py", "record", cwd=ROOT, env=env, stderr=log, stdout=log
        )


# ---- what the recorder and the simulator report ------------------------------------------------


@dataclass
class Scrape:
    at: float
    messages: float
    rows: float  # aggTrade + depth rows committed
    lag: dict[float, float]  # le -> cumulative count, aggTrade + depth
    books_valid: int


async def scrape(http: aiohttp.ClientSession, port: int) -> Scrape:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    result = Scrape(time.perf_counter(), 0.0, 0.0, {}, 0)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            table = s.labels.get("table")
            if s.name == "flowline_messages_total":
                result.messages += s.value
            elif s.name == "flowline_rows_written_total" and table in STREAM_TABLES:
                result.rows += s.value
            elif s.name == "flowline_commit_lag_seconds_bucket" and table in STREAM_TABLES:
                le = float(s.labels["le"])
                result.lag[le] = result.lag.get(le, 0.0) + s.value
            elif s.name == "flowline_book_valid":
                result.books_valid += int(s.value)
    return result


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """``histogram_quantile`` over the window between two scrapes (linear within a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return math.nan
    i = bisect.bisect_left(counts, q * total)
    if math.isinf(bounds[i]):
        return bounds[-2]  # beyond the last finite bucket: report its bound
    lower, below = (bounds[i - 1], counts[i - 1]) if i else (0.0, 0.0)
    return lower + (bounds[i] - lower) * (q * total - below) / (counts[i] - below)


async def sim_get(http: aiohttp.ClientSession, url: str) -> dict:
    async with http.get(url) as resp:
        return await resp.json()


async def clock_offset_ms(http: aiohttp.ClientSession, sim_url: str, step_ms: int) -> float:
    """Simulator clock minus wall clock (ms): its time advances in whole steps, hence + step/2."""
    samples = []
    for _ in range(15):  # a trimmed mean: each sample is off by up to half a step
        before = time.time()
        server = (await sim_get(http, sim_url + "/fapi/v1/time"))["serverTime"]
        samples.append(server + step_ms / 2 - (before + time.time()) * 500)
        await asyncio.sleep(0.0137)  # not a multiple of a step: the samples' phases differ
    return sum(sorted(samples)[3:-3]) / 9


async def sim_frames(http: aiohttp.ClientSession, sim_url: str) -> int:
    return (await sim_get(http, sim_url + "/sim/status"))["frames"]


async def backend_pids(conn: asyncpg.Connection) -> list[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'flowline-recorder'"
    )
    return [r["pid"] for r in rows]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """CPU seconds of those processes /proc shows (none for a remote server, or once gone)."""
    result = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            result[pid] = cpu_seconds(pid)
    return result


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float | None:
    """CPU seconds between two readings, over the processes seen in both."""
    both = before.keys() & after.keys()
    return sum(after[p] - before[p] for p in both) if both else None


# ---- one rate --------------------------------------------------------------------------------


async def wait_ready(
    http: aiohttp.ClientSession,
    port: int,
    process: asyncio.subprocess.Process,
    books: int,
    log: Path,
) -> None:
    """Until every book is in sync and both streams flow (or the recorder died)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the recorder exited with {process.returncode}:\n{tail(log)}")
        with contextlib.suppress(aiohttp.ClientError):
            s = await scrape(http, port)
            if s.books_valid >= books and s.rows > 0:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("the recorder did not get ready within 60 s")


async def window(
    http: aiohttp.ClientSession, port: int, pids: tuple[int, list[int]], seconds: float
) -> tuple[Scrape, Scrape, float, float | None, float]:
    """Scrapes at both ends, recorder CPU %, its backends' CPU %, peak RSS (MB)."""
    pid, backends = pids
    first, cpu0, db0 = await scrape(http, port), tree_cpu_seconds(pid), cpu_by_pid(backends)
    peak, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        peak = max(peak, tree_rss_mb(pid))
        await asyncio.sleep(0.25)
    last, cpu1, db1 = await scrape(http, port), tree_cpu_seconds(pid), cpu_by_pid(backends)
    elapsed = last.at - first.at
    db_seconds = cpu_used(db0, db1)
    db_cpu = None if db_seconds is None else 100 * db_seconds / elapsed
    return first, last, 100 * (cpu1 - cpu0) / elapsed, db_cpu, peak


async def stored_rows(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT (SELECT count(*) FROM agg_trades) + (SELECT count(*) FROM depth_updates)"
    )


async def drain(conn: asyncpg.Connection, frames: int, limit: float = 30) -> float:
    """Seconds until every frame sent is a row (or the row count stops moving for 3 s)."""
    started = time.perf_counter()
    last, still_since = -1, started
    while time.perf_counter() - started < limit:
        rows = await stored_rows(conn)
        if rows >= frames:
            break
        if rows != last:
            last, still_since = rows, time.perf_counter()
        elif time.perf_counter() - still_since > 3:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def integrity(conn: asyncpg.Connection) -> tuple[int, int, int]:
    """Missing aggTrade ids (inside each symbol's range), duplicate ids, depth ``pu`` breaks."""
    missing, duplicates = await conn.fetchrow(
        "SELECT coalesce(sum(max_id - min_id + 1 - ids), 0), coalesce(sum(n - ids), 0) FROM ("
        " SELECT max(agg_trade_id) AS max_id, min(agg_trade_id) AS min_id,"
        " count(DISTINCT agg_trade_id) AS ids, count(*) AS n FROM agg_trades GROUP BY symbol) s"
    )
    breaks = await conn.fetchval(
        "SELECT count(*) FROM (SELECT prev_final_update_id AS pu, lag(final_update_id)"
        " OVER (PARTITION BY symbol ORDER BY final_update_id) AS prev FROM depth_updates) d"
        " WHERE prev IS NOT NULL AND pu <> prev"
    )
    return int(missing), int(duplicates), int(breaks)


async def measure(
    args: argparse.Namespace, simulators: Simulators, rate: float, url: str, work: Path
) -> Run:
    symbols = SYMBOLS[: args.symbols]
    per_stream = rate / (2 * len(symbols))  # aggTrade + depth per symbol
    port = free_port()
    async with (
        aiohttp.ClientSession() as http,
        simulators.run(http, symbols, per_stream) as (sim_url, offset),
    ):
        recorder = await start_recorder(
            url, sim_url, symbols, port, work, args.profile, args.processes
        )
        conn = await asyncpg.connect(url)
        try:
            await wait_ready(http, port, recorder, len(symbols), work / "recorder.log")
            await asyncio.sleep(args.warmup)
            pids = (recorder.pid, await backend_pids(conn))
            sent0 = await sim_frames(http, sim_url)
            first, last, cpu, db_cpu, peak = await window(http, port, pids, args.seconds)
            sent1 = await sim_frames(http, sim_url)
            await sim_post(http, sim_url + "/sim/clock", {"paused": True})
            frames = await sim_frames(http, sim_url)
            drained = await drain(conn, frames)
            await stop_process(recorder)
            missing, duplicates, breaks = await integrity(conn)
            rows = await stored_rows(conn)
        finally:
            await stop_process(recorder)
            await conn.close()
    elapsed = last.at - first.at
    return Run(
        offered=(sent1 - sent0) / elapsed,
        received=(last.messages - first.messages) / elapsed,
        committed=(last.rows - first.rows) / elapsed,
        p50=quantile(0.5, first.lag, last.lag) + offset / 1000,
        p99=quantile(0.99, first.lag, last.lag) + offset / 1000,
        send_delay=(args.step_ms - 1) / 1000,
        cpu=cpu,
        rss_mb=peak,
        db_cpu=db_cpu,
        clock_offset_ms=offset,
        drain_s=drained,
        frames=frames,
        rows=rows,
        missing_ids=missing,
        duplicates=duplicates,
        chain_breaks=breaks,
        messages=round(last.messages - first.messages),
    )


async def sim_post(http: aiohttp.ClientSession, url: str, body: dict) -> None:
    async with http.post(url, json=body) as resp:
        resp.raise_for_status()


# ---- database, raw COPY, report --------------------------------------------------------------


async def fresh_database(cluster: Cluster) -> str:
    await drop_database(cluster, DB_NAME)
    return await create_database(cluster, DB_NAME)


async def raw_copy(url: str) -> tuple[int, float]:
    """COPY the stored aggTrade and depth rows again, into scratch hypertables shaped like the
    real ones (same columns, chunk interval and unique index) with no recorder: rows, rows/s."""
    conn = await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})
    rows, seconds = 0, 0.0
    try:
        for table in STREAM_TABLES:
            columns = COLUMNS[table]
            records = await conn.fetch(
                f"SELECT {', '.join(columns)} FROM {table}"  # names from our own schema
            )
            scratch = f"bench_raw_{table}"
            interval = await conn.fetchval(
                "SELECT time_interval FROM timescaledb_information.dimensions"
                " WHERE hypertable_name = $1",
                table,
            )
            await conn.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
            await conn.execute(
                "SELECT create_hypertable($1::regclass, by_range('time', $2::interval))",
                scratch,
                interval,
            )
            started = time.perf_counter()
            for i in range(0, len(records), 10_000):
                await conn.copy_records_to_table(
                    scratch, records=records[i : i + 10_000], columns=columns
                )
            seconds += time.perf_counter() - started
            rows += len(records)
            await conn.execute(f"DROP TABLE {scratch}")
    finally:
        await conn.close()
    return rows, rows / seconds if seconds else math.nan


def kept_up(run: Run) -> bool:
    """Sustained: nothing lost, and received and committed within 3 % of what was sent."""
    nothing_lost = run.lost == 0 and run.holes == 0 and run.duplicates == 0
    return nothing_lost and min(run.received, run.committed) >= 0.97 * run.offered


def print_table(results: dict[float, Run]) -> None:
    head = (
        f"{'rate':>7} {'sent/s':>8} {'recv msg/s':>10} {'rows/s':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'CPU %':>6} {'RSS MB':>7} {'PG CPU %':>8} {'drain s':>7} "
        f"{'lost':>7} {'holes':>5} {'dup':>4}  kept up"
    )
    print(head)
    for rate, r in results.items():
        db_cpu = "n/a" if r.db_cpu is None else f"{r.db_cpu:.0f}"
        print(
            f"{rate:>7,.0f} {r.offered:>8,.0f} {r.received:>10,.0f} {r.committed:>8,.0f} "
            f"{r.p50 * 1000:>7.0f} {r.p99 * 1000:>7.0f} {r.cpu:>6.0f} {r.rss_mb:>7.0f} "
            f"{db_cpu:>8} {r.drain_s:>7.1f} {r.lost:>7} {r.holes:>5} {r.duplicates:>4}  "
            f"{'yes' if kept_up(r) else 'NO'}"
        )
    offsets = ", ".join(f"{r.clock_offset_ms:+.0f}" for r in results.values())
    print(f"(lag corrected by the simulator-vs-wall clock offset, ms: {offsets})")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end (1, 5, 15 min; {os.cpu_count()} cores): {load}")


def print_e2e(rate: float, r: Run) -> None:
    print(
        f"e2e: rate={rate:.0f} received={r.messages} rows_s={r.committed:.0f}"
        f" p50_ms={(r.p50 - r.send_delay) * 1000:.1f} p99_ms={(r.p99 - r.send_delay) * 1000:.1f}"
        f" cpu_pct={r.cpu:.0f} kept_up={'yes' if kept_up(r) else 'no'}"
        f" raw_copy_rows_s={r.raw_rate:.0f}",
        flush=True,
    )


def print_saturation(results: dict[float, Run], processes: int) -> None:
    """The best rate kept up, against raw COPY measured right after it."""
    kept = [r for r in results.values() if kept_up(r)]
    best = max(kept, key=lambda r: r.committed, default=None)
    rows, raw = (best.committed, best.raw_rate) if best else (0.0, math.nan)
    print(
        f"e2e: saturation rows_s={rows:.0f} raw_copy_rows_s={raw:.0f}"
        f" ratio={rows / raw:.2f} processes={processes}"
    )


def print_targets(results: dict[float, Run], raw_rows: int, raw_rate: float) -> None:
    best = max((r.committed for r in results.values() if kept_up(r)), default=0.0)
    peak = max(r.committed for r in results.values())
    print(f"raw COPY of the same {raw_rows:,} rows, no recorder: {raw_rate:,.0f} rows/s")
    print(
        f"best sustained rate (kept up, nothing lost): {best:,.0f} rows/s = {best / raw_rate:.0%}"
    )
    print(f"peak committed at any rate: {peak:,.0f} rows/s = {peak / raw_rate:.0%} of raw COPY")
    ok50 = any(kept_up(r) and r.offered >= 0.95 * 50_000 for r in results.values())
    print(f"target >= 50,000 msgs/s sustained, nothing lost: {'met' if ok50 else 'NOT met'}")
    print(f"target ratio to raw COPY >= 50 %: {'met' if best >= raw_rate / 2 else 'NOT met'}")
    at10k = results.get(10_000.0)
    if at10k is not None:
        verdict = "met" if at10k.p99 < 0.25 else "NOT met"
        print(f"target p99 lag < 250 ms at 10,000 msgs/s: {at10k.p99 * 1000:.0f} ms, {verdict}")


def print_profile(path: Path, top: int = 25) -> None:
    print(f"\ncProfile of the recorder at the last rate (top {top} by own time):")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if not rates or not 1 <= args.symbols <= len(SYMBOLS) or not 1 <= args.processes <= 64:
        raise SystemExit(f"need at least one rate, 1..{len(SYMBOLS)} symbols, 1..64 processes")
    cluster = bench_cluster()
    results: dict[float, Run] = {}
    simulators = Simulators(args.step_ms)
    with tempfile.TemporaryDirectory(prefix="flowline-e2e-") as tmp:
        work = Path(tmp)
        try:
            for rate in rates:
                url = await fresh_database(cluster)
                run = results[rate] = await measure(args, simulators, rate, url, work)
                raw_rows, run.raw_rate = await raw_copy(url)
                print_e2e(rate, run)
                print(f"rate {rate:,.0f}: done", file=sys.stderr)
        finally:
            await drop_database(cluster, DB_NAME)
        symbols = ",".join(SYMBOLS[: args.symbols])
        print(
            f"\nrecorder end to end: blast aggTrade + depth@100ms over {symbols}, "
            f"{args.seconds:.0f} s per rate after {args.warmup:.0f} s warm-up"
        )
        print_table(results)
        print_targets(results, raw_rows, results[rates[-1]].raw_rate)
        print_saturation(results, args.processes)
        if args.profile:
            print_profile(work / "recorder.prof")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
