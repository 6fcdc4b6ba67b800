"""`kill -9` of the strategy worker while a session is being recorded, three times: afterwards
its tables hold exactly what one uninterrupted pass (a backtest) computes, once each."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import datetime
from pathlib import Path

import asyncpg

from sim.server import Simulator
from strategy.backtest import run_backtest
from strategy.config import load_config
from strategy.strategies import REGISTRY
from tests.integration.strategy.test_worker import SCRIPT, SYMBOLS

ROOT = Path(__file__).resolve().parents[3]


def write_config(path: Path) -> Path:
    lines = [
        "[worker]",
        f"symbols = {list(SYMBOLS)!r}".replace("'", '"'),
        'settle = "300ms"', 'poll = "200ms"', 'warmup = "1h"', "metrics_port = 0",
        "[indicators]",
        'bar = "1s"', "panic_baseline_bars = 30", "panic_cdf_min_samples = 30",
        "absorption_ref_windows = 10", "cascade_baseline_s = 60", "wall_min_age_ms = 2000",
    ]  # fmt: skip
    lines.append("[strategies]")  # every registered strategy, enabled
    for name in sorted(REGISTRY):
        lines += [f"[strategies.{name}]", "enabled = true"]
    path.write_text("\n".join(lines) + "\n")
    return path


async def start_worker(dsn: str, config: Path, log: Path) -> asyncio.subprocess.Process:
    env = os.environ | {"DATABASE_URL": dsn, "STRATEGY_CONFIG": str(config), "EXECUTION": "paper"}
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "strategy", cwd=ROOT, env=env,
            stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip


async def test_kill_9_three_times_leaves_no_duplicate_and_no_missing_row(
    record_session, strategy_db, tmp_path
):
    config_path = write_config(tmp_path / "strategy.toml")
    log = tmp_path / "worker.log"
    kills = []
    chaos_runs: list[asyncio.Task] = []

    async def chaos(sim: Simulator, recorder) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(strategy_db)
            try:
                for _ in range(3):
                    before = await conn.fetchval("SELECT max(processed) FROM strategy_state")
                    proc = await start_worker(strategy_db, config_path, log)
                    await asyncio.sleep(3.0)
                    for _ in range(300):  # killed once it wrote a step: each resume is later
                        now = await conn.fetchval("SELECT max(processed) FROM strategy_state")
                        if now is not None and now != before:
                            break
                        await asyncio.sleep(0.1)
                    proc.send_signal(signal.SIGKILL)
                    await proc.wait()
                    kills.append(proc.returncode)
            finally:
                await conn.close()

        chaos_runs.append(asyncio.get_running_loop().create_task(run()))

    await record_session(SCRIPT, 150, symbols=list(SYMBOLS), speed=10, on_running=chaos)
    await asyncio.wait_for(chaos_runs[0], 90)
    assert kills == [-signal.SIGKILL] * 3, log.read_text()[-3000:]

    conn = await asyncpg.connect(strategy_db)
    try:
        newest = await conn.fetchval(
            "SELECT extract(epoch FROM least((SELECT max(time) FROM agg_trades),"
            " (SELECT max(time) FROM depth_updates))) * 1000"
        )
        final = int(newest) - int(newest) % 1000
        proc = await start_worker(strategy_db, config_path, log)  # finishes the session
        try:
            for _ in range(300):
                processed = await conn.fetchval(
                    "SELECT extract(epoch FROM processed) * 1000 FROM strategy_state"
                )
                if processed is not None and processed >= final:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("worker did not catch up: " + log.read_text()[-3000:])
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0, log.read_text()[-3000:]
        bars = await conn.fetch(
            "SELECT symbol, extract(epoch FROM time) * 1000 AS t, close, cvd FROM indicators"
            " ORDER BY time, symbol"
        )
        signals = await conn.fetch("SELECT signal_id, decision FROM signals ORDER BY signal_id")
        fills = await conn.fetch("SELECT fill_id, qty, price FROM fills ORDER BY fill_id")
    finally:
        await conn.close()

    config = load_config(config_path, env={})
    first = int(bars[0]["t"])  # the backtest starts where the worker first did, warmed up as it was
    result = await run_backtest(strategy_db, config, first, final, keep_snapshots=True, warm=True)
    assert result.snapshots is not None
    expected = [
        (s.symbol, s.time_ms, s.close, s.cvd) for s in result.snapshots if s.time_ms >= first
    ]
    got = [(r["symbol"], int(r["t"]), r["close"], r["cvd"]) for r in bars]
    assert len(got) == len(set((s, t) for s, t, _, _ in got)), "duplicate bars"
    assert got == expected
    live_signals = {(str(r["signal_id"]), r["decision"]) for r in signals}
    replayed = {(str(s.signal_id), d.reason) for s, d in result.signals if s.time_ms >= first}
    assert live_signals == replayed
    assert len(fills) == len({r["fill_id"] for r in fills})
    found = re.findall(r"resumes at (\S+) on", log.read_text())
    resumed = [datetime.fromisoformat(m) for m in found]
    assert len(resumed) == 4 and resumed == sorted(set(resumed)), resumed  # each kill lost nothing
