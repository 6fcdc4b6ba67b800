"""The worker without STRATEGY_SYMBOLS follows the recorder's SYMBOLS=top:5 as the simulator's
ranking changes: a symbol entering the top 5 is warmed up and gets signals, one leaving gets
none after it left, and when it comes back it is warmed up on the bars recorded before."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg

from collector.cli import Recorder, run_recorder
from strategy.cli import run_strategy
from strategy.config import StrategySpec
from strategy.source import setup_reader
from strategy.worker import Worker
from tests.integration.recorder.conftest import recorder_settings, wait_until
from tests.integration.strategy.test_signals_only import CHATTY
from tests.integration.strategy.test_worker import fast_config
from tests.sim_fixtures import make_simulator

SCRIPT = json.loads(Path("sim/scripts/demo.json").read_text())
SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"]
VOLUMES = {s: f"{9 - i}e9" for i, s in enumerate(SYMBOLS)}  # ADAUSDT is 6th: not recorded
LEAVING, ENTERING = "XRPUSDT", "ADAUSDT"
CONFIG = fast_config(
    symbols=(),  # follow the recorder
    executor="off",
    strategies=(StrategySpec("scored_imbalance", params=CHATTY | {"baseline_bars": 10}),),
    warmup_ms=600_000,
)


async def test_worker_follows_the_recorders_top_n(strategy_db, tmp_path):
    sim = make_simulator(symbols=SYMBOLS, script=SCRIPT, speed=3, rate=60)
    for symbol, volume in VOLUMES.items():
        sim.set_quote_volume(symbol, volume)
    await sim.start()
    stop, workers = asyncio.Event(), []
    settings = recorder_settings(strategy_db, sim, tmp_path / "spool", SYMBOLS="top:5",
                                 UNIVERSE_REFRESH="1")  # fmt: skip
    ready: asyncio.Future[Recorder] = asyncio.get_running_loop().create_future()
    tasks = [asyncio.create_task(run_recorder(settings, stop, on_ready=ready.set_result))]
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        recorder = await asyncio.wait_for(ready, 20)
        sim.resume()
        tasks.append(asyncio.create_task(
            run_strategy(strategy_db, CONFIG, stop, lambda w, _: workers.append(w))
        ))  # fmt: skip
        await wait_until(lambda: bool(workers) and workers[0].engine is not None, 30, "worker")
        worker: Worker = workers[0]
        engine = worker.engine
        assert engine is not None
        top5 = set(SYMBOLS[:5])
        await wait_until(lambda: set(engine.symbols) == top5, 20, "the recorder's top 5")
        await _signals_for(conn, LEAVING, 0)

        sim.set_quote_volume(ENTERING, "10e9")
        sim.set_quote_volume(LEAVING, "1e9")
        await wait_until(lambda: ENTERING in recorder.symbols, 10, "the recorder's new top 5")
        await wait_until(lambda: ENTERING in engine.pipelines, 20, "the worker to add it")
        assert LEAVING not in engine.symbols
        left_at = worker.state.processed_ms
        assert left_at is not None
        await _signals_for(conn, ENTERING, left_at)
        await _signals_for(conn, "BTCUSDT", left_at)  # the others go on meanwhile

        # back in the top 5: warmed up on the bars recorded before it left, so its RSI (14
        # bars) is there at its first bar back, and it gets signals again
        sim.set_quote_volume(LEAVING, "20e9")
        await wait_until(lambda: LEAVING in engine.pipelines, 20, "the worker to add it again")
        back_at = worker.state.processed_ms
        await _signals_for(conn, LEAVING, back_at)
        first_back = await conn.fetchrow(
            "SELECT * FROM indicators WHERE symbol = $1 AND time >= $2 ORDER BY time LIMIT 1",
            LEAVING,
            back_at,
        )
        assert first_back is not None and first_back["rsi"] is not None
        await _stop(stop, tasks)
        late = await conn.fetchval(
            "SELECT count(*) FROM signals WHERE symbol = $1 AND time > $2 AND time <= $3",
            LEAVING,
            left_at,
            back_at,
        )
        outcomes = await conn.fetch(
            "SELECT outcome FROM signals WHERE symbol = $1 AND decision = 'accepted'", LEAVING
        )
    finally:
        await _stop(stop, tasks)
        await sim.stop()
        await conn.close()
    assert late == 0
    # its tracked position (if one was open) ended when it left: nothing stays open on it
    assert all(r["outcome"] not in ("open", "pending") for r in outcomes), outcomes


async def _stop(stop: asyncio.Event, tasks: list[asyncio.Task]) -> None:
    stop.set()
    for task in tasks:
        await asyncio.wait_for(task, 30)


async def _signals_for(conn: asyncpg.Connection, symbol: str, after_ms: int) -> None:
    query = "SELECT count(*) FROM signals WHERE symbol = $1 AND time > $2"
    for _ in range(300):
        if await conn.fetchval(query, symbol, after_ms):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no signal for {symbol} after {after_ms}")
