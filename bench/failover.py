"""The database fails over while the recorder records (issue 21): nothing lost, nothing twice.

Brings up a pg_auto_failover formation on loopback ports (bench/pgaf.py: a monitor, a primary
with TimescaleDB and a synchronous standby), runs ``main.py db init``, starts the simulator
(with its ground truth), a recorder and the strategy worker (EXECUTION=off) with the multi-host
URL ``postgresql://flowline@127.0.0.1:P1,127.0.0.1:P2/flowline?target_session_attrs=read-write``,
kills the primary (``kill -9`` of its pg_autoctl and its postmaster) mid-recording, waits for
the monitor to promote the standby, lets the run go on, stops the market, waits until every
hole is backfilled or declared, stops the recorder and checks the new primary against the
simulator's truth:

    failover: lost=L duplicated=D undeclared=U recover_s=S rows=N

``lost``: aggTrades the simulator made that are not stored (backfill allowed); ``duplicated``:
aggTrades and depth diffs stored more than once; ``undeclared``: depth diffs neither stored nor
inside a declared gap; ``recover_s``: from the kill to the first row committed on the new
primary (its commit timestamp); ``rows``: aggTrades + depth diffs stored. A second line says
how long promotion took and whether the worker committed on the new primary. Exit 1 when
anything was lost, duplicated or undeclared. Bounded (``--budget``), stops by itself, removes
its processes and directories. Needs root or the packages (scripts/install_pgautofailover.sh).

    .venv/bin/python bench/failover.py
    .venv/bin/python bench/failover.py --before 5 --after 5 --rate 300
    .venv/bin/python bench/failover.py --recorders 2   # two recorders sharing through leases
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgaf import Formation, FormationError, available  # noqa: E402
from sim.server import Simulator  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
DEPTH_SPEED_MS = 100


@dataclass
class Outcome:
    lost: int
    duplicated: int
    undeclared: int
    recover_s: float
    rows: int
    promote_s: float = 0.0
    worker_on_new_primary: bool = False
    sync_standby: str = ""

    def line(self) -> str:
        return (
            f"failover: lost={self.lost} duplicated={self.duplicated}"
            f" undeclared={self.undeclared} recover_s={self.recover_s:.2f} rows={self.rows}"
        )

    @property
    def ok(self) -> bool:
        return self.lost == self.duplicated == self.undeclared == 0 and self.rows > 0


class Child:
    """``python main.py <command>`` with its output in a log file."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, {**os.environ, **env}, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                PYTHON, "main.py", *self.command.split(), cwd=ROOT, env=self.env,
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip

    async def stop(self, within: float = 60) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), within)
        except TimeoutError:
            proc.kill()
            return await proc.wait()

    def tail(self, n: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


async def db_init(url: str, log: Path) -> None:
    init = Child("db init", {"DATABASE_URL": url}, log)
    await init.start()
    assert init.proc is not None
    if await asyncio.wait_for(init.proc.wait(), 180) != 0:
        raise FormationError(f"db init failed:\n{init.tail()}")


def worker_config(path: Path) -> Path:
    path.write_text(
        f"[worker]\nsymbols = {SYMBOLS!r}\n".replace("'", '"')
        + 'settle = "300ms"\npoll = "200ms"\n'
        'warmup = "1h"\nmetrics_port = 0\n[indicators]\nbar = "1s"\n'
    )
    return path


async def wait_for(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.2
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise FormationError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(every)


async def no_open_gaps(url: str) -> bool:
    with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return not await conn.fetchval("SELECT count(*) FROM data_gaps WHERE status = 'open'")
        finally:
            await conn.close()
    return False


async def worker_committed(url: str, since: float) -> bool:
    """Whether the strategy worker committed indicator rows after ``since`` (the kill)."""
    with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT FROM indicators"
                    " WHERE pg_xact_commit_timestamp(xmin) > to_timestamp($1))",
                    since,
                )
            )
        finally:
            await conn.close()
    return False


async def fail_over(f: Formation) -> tuple[float, float]:
    """Kill the primary; returns (the kill's wall-clock time, seconds until node2 is primary)."""
    f.kill("node1")
    killed = time.time()
    await f.wait_states({"node2": ("wait_primary", "primary")}, 120)
    return killed, time.time() - killed


def recorders(env: dict[str, str], n: int, work: Path) -> list[Child]:
    """One recorder, or ``n`` sharing the symbols through leases (as on two hosts)."""
    if n == 1:
        return [Child("record", env | {"SPOOL_DIR": str(work / "spool")}, work / "recorder.log")]
    shared = env | {"LEASES": "on", "LEASE_MEMBERS": str(n)}
    return [
        Child(
            "record", shared | {"SPOOL_DIR": str(work / f"spool-{i}")}, work / f"recorder-{i}.log"
        )
        for i in range(n)
    ]


async def record(f: Formation, args: argparse.Namespace, work: Path) -> Outcome:
    env = {
        "DATABASE_URL": f.url, "SYMBOLS": ",".join(SYMBOLS), "METRICS_PORT": "0",
        "BATCH_MAX_MS": "50", "OI_POLL_INTERVAL": "1", "BOOK_TOP_INTERVAL": "0.5",
        "DEPTH_SNAPSHOT_INTERVAL": "0", "LOG_LEVEL": "INFO",
    }  # fmt: skip
    async with Simulator(SYMBOLS, seed=21, rate=args.rate, record_truth=True, paused=True) as sim:
        env |= {"BINANCE_WS_URL": sim.ws_url, "BINANCE_REST_URL": sim.http_url}
        recs = recorders(env, args.recorders, work)
        worker = Child(
            "strategy",
            {**env, "STRATEGY_CONFIG": str(worker_config(work / "strategy.toml")),
             "EXECUTION": "off"},
            work / "worker.log",
        )  # fmt: skip
        try:
            for rec in recs:
                await rec.start()
            connected = async_true(lambda: len(sim.hub.open) >= 2 * len(recs))
            await wait_for(connected, 30, "the recorders")
            await asyncio.sleep(0.3)  # the subscriptions register right after the handshake
            sim.resume()
            await worker.start()
            await asyncio.sleep(args.before)
            killed, promote_s = await fail_over(f)
            await asyncio.sleep(args.after)
            sim.pause()
            await asyncio.sleep(1.0)  # the last frames, and the gap rows they open, arrive
            await wait_for(lambda: no_open_gaps(f.url), 120, "every gap repaired or declared")
            # the worker restarts on its own schedule after the outage: give it time to reach
            # the new primary (the outcome says whether it did)
            with contextlib.suppress(FormationError):
                await wait_for(lambda: worker_committed(f.url, killed), 60, "the worker")
            for rec in recs:
                if (rc := await rec.stop()) != 0:
                    raise FormationError(f"a recorder exited {rc}:\n{rec.tail()}")
        finally:
            for child in (*recs, worker):
                await child.stop()
        outcome = await check(f.url, sim, killed)
    outcome.promote_s = promote_s
    return outcome


def async_true(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check


async def check(url: str, sim: Simulator, killed: float) -> Outcome:
    """The new primary against the simulator's truth."""
    conn = await asyncpg.connect(url)
    try:
        lost = duplicated = undeclared = rows = 0
        for symbol in SYMBOLS:
            made = {t["a"] for t in sim.truth.agg_trades[symbol]}
            ids = await column(
                conn, "SELECT agg_trade_id FROM agg_trades WHERE symbol = $1", symbol
            )
            sent = [d["u"] for d in sim.truth.depth_events[symbol, DEPTH_SPEED_MS]]
            diffs = await column(
                conn, "SELECT final_update_id FROM depth_updates WHERE symbol = $1", symbol
            )
            gaps = await conn.fetch(
                "SELECT first_id, last_id FROM data_gaps"
                " WHERE stream = 'depth_updates' AND symbol = $1",
                symbol,
            )
            lost += len(made - set(ids))
            duplicated += len(ids) - len(set(ids)) + len(diffs) - len(set(diffs))
            stored = set(diffs)
            undeclared += sum(
                u not in stored and not any(g["first_id"] <= u <= g["last_id"] for g in gaps)
                for u in sent
            )
            rows += len(ids) + len(diffs)
        first = await conn.fetchval(
            "SELECT extract(epoch FROM min(ts)) FROM ("
            " SELECT pg_xact_commit_timestamp(xmin) AS ts FROM agg_trades"
            " UNION ALL SELECT pg_xact_commit_timestamp(xmin) FROM depth_updates) t"
            " WHERE ts > to_timestamp($1)",
            killed,
        )
        worker_rows = await conn.fetchval(
            "SELECT count(*) FROM indicators"
            " WHERE pg_xact_commit_timestamp(xmin) > to_timestamp($1)",
            killed,
        )
    finally:
        await conn.close()
    recover_s = float(first) - killed if first is not None else float("nan")
    return Outcome(lost, duplicated, undeclared, recover_s, rows, 0.0, worker_rows > 0)


async def column(conn: asyncpg.Connection, sql: str, *args: object) -> list[int]:
    return [r[0] for r in await conn.fetch(sql, *args)]


async def run(args: argparse.Namespace, work: Path) -> Outcome:
    """Formation, db init, recording with a failover, checks; always cleans up."""
    formation = Formation(work.parent / f"{work.name}-pg")
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    try:
        async with asyncio.timeout(args.budget):
            await formation.start()
            await db_init(formation.url, work / "db-init.log")
            conn = await asyncpg.connect(formation.url)
            try:  # pg_auto_failover's synchronous standby: ANY 1 (pgautofailover_standby_2)
                sync = await conn.fetchval("SHOW synchronous_standby_names")
            finally:
                await conn.close()
            outcome = await record(formation, args, work)
            outcome.sync_standby = sync
            return outcome
    finally:
        await asyncio.to_thread(formation.stop)
        if not args.keep_logs:
            shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=float, default=8.0, help="seconds recorded before the kill")
    p.add_argument("--after", type=float, default=8.0, help="seconds recorded after promotion")
    p.add_argument("--rate", type=float, default=200.0, help="simulator events per second")
    p.add_argument("--recorders", type=int, default=1, help="N > 1: N recorders with LEASES=on")
    p.add_argument("--budget", type=float, default=600.0, help="give up after this many seconds")
    p.add_argument("--keep-logs", action="store_true", help="keep var/failover/run-*/ logs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = available()
    if reason:
        print(f"failover: cannot run: {reason}", file=sys.stderr)
        return 2
    work = ROOT / "var" / "failover" / f"run-{os.getpid()}"
    try:
        outcome = asyncio.run(run(args, work))
    except (FormationError, TimeoutError) as exc:
        print(f"failover: failed: {exc or 'the time budget ran out'}", file=sys.stderr)
        return 1
    print(outcome.line())
    print(
        f"failover: promote_s={outcome.promote_s:.2f} worker_on_new_primary="
        f"{'yes' if outcome.worker_on_new_primary else 'no'}"
        f" synchronous_standby_names={outcome.sync_standby!r}"
    )
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
