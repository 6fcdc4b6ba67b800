"""The live worker over a session as it is recorded, and a backtest of it afterwards."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg

from sim.server import Simulator
from strategy.backtest import run_backtest
from strategy.cli import run_strategy
from strategy.config import IndicatorParams, StrategyConfig, StrategySpec
from strategy.snapshot import COLUMNS
from strategy.source import setup_reader
from strategy.strategies import REGISTRY
from strategy.worker import Worker
from tests.integration.recorder.conftest import wait_until

SCRIPT = json.loads(Path("sim/scripts/demo.json").read_text())
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def fast_config(**changes) -> StrategyConfig:
    """1 s bars and short baselines, so a few simulated minutes are enough."""
    indicators = IndicatorParams(
        bar_ms=1000,
        panic_baseline_bars=30,
        panic_cdf_min_samples=30,
        absorption_ref_windows=10,
        cascade_baseline_s=60,
        wall_min_age_ms=2000,
    )
    every = tuple(StrategySpec(name) for name in sorted(REGISTRY))
    base = {
        "strategies": every,
        "symbols": SYMBOLS,
        "indicators": indicators,
        "warmup_ms": 3_600_000,
        "metrics_port": 0,
        "settle_ms": 300,
        "poll_ms": 200,
    }
    return StrategyConfig(**(base | changes))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


async def test_live_worker_writes_the_same_bars_and_signals_as_a_backtest(
    record_session, strategy_db
):
    live, signals, final = await _run_live(record_session, strategy_db, fast_config())
    await _assert_backtest_agrees(strategy_db, fast_config(), live, signals, final)


async def test_after_reconnects_the_live_worker_waits_for_the_backfill(record_session, strategy_db):
    """Binance drops the aggTrade connection twice; the trades missed meanwhile are backfilled
    from REST seconds later. The recorder's watermark waits for them, so the live worker's bars
    include them, as a backtest's do."""
    drops: list[int] = []

    async def chaos(sim: Simulator) -> None:
        for _ in range(2):
            await asyncio.sleep(3.0)
            drops.append(sim.faults.drop_connections("market"))

    live, signals, final = await _run_live(record_session, strategy_db, fast_config(), chaos)
    assert len(drops) == 2 and all(drops), drops
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)  # times as ms
    try:
        backfilled = await conn.fetchval(
            "SELECT count(*) FROM agg_trades WHERE event_time IS NULL AND time >= $1",
            live[0]["time"],
        )
    finally:
        await conn.close()
    assert backfilled > 0, "nothing was backfilled while the worker ran: this proves nothing"
    await _assert_backtest_agrees(strategy_db, fast_config(), live, signals, final)


async def _run_live(
    record_session,
    strategy_db: str,
    config: StrategyConfig,
    chaos: Callable[[Simulator], Awaitable[None]] | None = None,
    script: dict | None = None,
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], int]:
    """Record a session with the live worker running; its indicator rows, signals and the last
    bar it had to reach."""
    stop = asyncio.Event()
    started: list[Worker] = []
    ports: list[int] = []
    tasks: list[asyncio.Task] = []

    async def start_worker(sim: Simulator, recorder) -> None:
        def ready(worker: Worker, port: int) -> None:
            started.append(worker)
            ports.append(port)

        tasks.append(asyncio.create_task(run_strategy(strategy_db, config, stop, ready)))
        if chaos is not None:
            tasks.append(asyncio.create_task(chaos(sim)))

    session = await record_session(script or SCRIPT, 120, symbols=list(SYMBOLS), speed=10,
                                   on_running=start_worker)  # fmt: skip
    assert session.end_ms > session.start_ms
    worker = started[0]
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        newest = await conn.fetchval(
            "SELECT least((SELECT max(time) FROM agg_trades),"
            " (SELECT max(time) FROM depth_updates))"
        )
        final = newest - newest % 1000
        await wait_until(lambda: (worker.state.processed_ms or 0) >= final, 30, "the worker")
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{ports[0]}"
            async with http.get(base + "/health") as resp:
                health = await resp.json()
                assert resp.status == 200 and health["db"] == "up", health
            async with http.get(base + "/metrics") as resp:
                exposition = await resp.text()
        assert 'flowline_strategy_bars_total{symbol="BTCUSDT"}' in exposition
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        live = await conn.fetch("SELECT * FROM indicators ORDER BY time, symbol")
        signals = await conn.fetch("SELECT signal_id, decision FROM signals")
    finally:
        await conn.close()
    return live, signals, final


async def _assert_backtest_agrees(
    strategy_db: str,
    config: StrategyConfig,
    live: list[asyncpg.Record],
    signals: list[asyncpg.Record],
    final: int,
) -> None:
    """A backtest from where the worker first started, warmed up as it was, gives the same bars
    and signals."""
    first_live = live[0]["time"]
    result = await run_backtest(
        strategy_db, config, first_live, final, keep_snapshots=True, warm=True
    )
    assert result.snapshots is not None
    replayed = [s for s in result.snapshots if s.time_ms >= first_live]
    assert len(live) > 100
    assert len(replayed) == len(live)
    for row, snap in zip(live, replayed, strict=True):
        for i, name in enumerate(COLUMNS):
            value = row["time"] if name == "time_ms" else row[name]
            assert _same(value, snap.row()[i]), (name, snap.symbol, snap.time_ms, value)
    assert any(row["book_valid"] for row in live)
    live_signals = {(str(r["signal_id"]), r["decision"]) for r in signals}
    assert live_signals == {
        (str(s.signal_id), d.reason) for s, d in result.signals if s.time_ms >= first_live
    }
