"""EXECUTION=off over a long recorded session: each accepted signal's hypothetical position is
tracked from the recorded trades, so symbols free themselves and `signals` says how each would
have ended; a paper backtest (and a signals-only one) of the same data decides and ends the
same signals the same way."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import asyncpg

from strategy.backtest import BacktestResult, run_backtest
from strategy.cli import run_strategy
from strategy.config import PaperParams, RiskParams, StrategySpec
from strategy.source import setup_reader
from strategy.worker import Worker
from tests.integration.recorder.conftest import wait_until
from tests.integration.strategy.test_worker import SYMBOLS, fast_config

SCRIPT = json.loads(Path("sim/scripts/demo.json").read_text())  # repeats every 195 s
# 5 simulated minutes at 10 times real time; the long run of the same test, e.g. 30 minutes at
# the market's own pace: FLOWLINE_SIGNALS_ONLY_MINUTES=30 FLOWLINE_SIGNALS_ONLY_SPEED=1
SECONDS = round(float(os.environ.get("FLOWLINE_SIGNALS_ONLY_MINUTES", "5")) * 60)
SPEED = float(os.environ.get("FLOWLINE_SIGNALS_ONLY_SPEED", "10"))
# Scored imbalance with short windows and no thresholds to speak of: a signal every few bars.
CHATTY = {"window_bars": 3, "baseline_bars": 20, "min_large_trades": 0, "cooldown_bars": 5,
          "imbalance_min": 0.1, "volume_intensity_min": 1.0, "min_score": 0.0}  # fmt: skip
# Frequent signals (short windows and cooldowns) and a short time exit, so that in 5 minutes
# each symbol opens, ends and reopens positions many times.
CONFIG = fast_config(
    executor="off",
    strategies=(
        StrategySpec("composite"),
        StrategySpec("scored_imbalance", params=CHATTY),
        StrategySpec("wall"),
    ),
    paper=PaperParams(max_hold_ms=30_000),
    risk=RiskParams(cooldown_ms=30_000),
    warmup_ms=0,
)
ENDED = {"stop", "target", "breakeven", "time"}


async def test_signals_only_frees_symbols_and_records_outcomes(record_session, strategy_db):
    stop = asyncio.Event()
    workers: list[Worker] = []
    tasks: list[asyncio.Task] = []

    async def start_worker(sim, recorder) -> None:
        ready = lambda worker, port: workers.append(worker)  # noqa: E731
        tasks.append(asyncio.create_task(run_strategy(strategy_db, CONFIG, stop, ready)))

    await record_session(SCRIPT, SECONDS, symbols=list(SYMBOLS), speed=SPEED,
                         on_running=start_worker)  # fmt: skip
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        newest = await conn.fetchval(
            "SELECT least((SELECT max(time) FROM agg_trades),"
            " (SELECT max(time) FROM depth_updates))"
        )
        final = newest - newest % 1000
        worker = workers[0]
        await wait_until(lambda: (worker.state.processed_ms or 0) >= final, 60, "the worker")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        first = await conn.fetchval("SELECT min(time) FROM indicators")
        signals = await conn.fetch("SELECT * FROM signals WHERE time <= $1 ORDER BY time", final)
        fills = await conn.fetchval("SELECT count(*) FROM fills")
    finally:
        await conn.close()

    accepted = [s for s in signals if s["decision"] == "accepted"]
    per_symbol = {sym: sum(s["symbol"] == sym for s in accepted) for sym in SYMBOLS}
    seen = Counter((s["symbol"], s["strategy"], s["decision"], s["outcome"]) for s in signals)
    assert all(n >= 3 for n in per_symbol.values()), seen  # freed, again and again
    assert fills == 0  # hypothetical: nothing was executed
    assert {s["outcome"] for s in signals if s["decision"] != "accepted"} == {None}
    ended = [s for s in accepted if s["outcome"] in ENDED]
    assert len(ended) >= len(accepted) - len(SYMBOLS)  # at most the last one per symbol open
    assert {s["outcome"] for s in ended} >= {"time"}, "no time exit: the test proves less"
    for s in ended:
        assert s["outcome_time"] > s["time"] and s["outcome_price"] > 0
        risked = s["qty"] * abs(s["entry"] - s["stop"])
        assert abs(s["outcome_r"] * risked - s["outcome_pnl"]) < 1e-6 * max(1.0, risked)
        if s["outcome"] == "stop":
            assert s["outcome_pnl"] < 0

    # The same data backtested from where the worker started: paper and signals-only alike.
    for executor in ("paper", "off"):
        config = replace(CONFIG, executor=executor)
        result = await run_backtest(strategy_db, config, first, final + 1000, warm=True)
        _assert_same_outcomes(signals, result, final)


def _assert_same_outcomes(signals: list[asyncpg.Record], result: BacktestResult, final: int):
    live = {(str(s["signal_id"]), s["decision"]) for s in signals}
    assert live == {(str(s.signal_id), d.reason) for s, d in result.signals if s.time_ms <= final}
    trades = {str(t.signal_id): t for t in result.trades if t.exit_reason != "end_of_data"}
    ended = {str(s["signal_id"]): s for s in signals if s["outcome"] in ENDED}
    assert set(ended) <= set(trades)
    for signal_id, s in ended.items():
        t = trades[signal_id]
        got = (s["outcome"], s["outcome_time"], s["outcome_price"], s["outcome_pnl"])
        assert got == (t.exit_reason, t.exit_time_ms, t.exit_price, t.pnl), signal_id
