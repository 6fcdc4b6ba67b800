"""The density preset's `wall` strategy on Bybit: a live paper worker (STRATEGY_VENUE=bybit) over
a Bybit session as it is stored, and a backtest of the same rows afterwards, give the same bars,
signals, decisions and closed trades. The session is the breakout script: a wall on the ask,
eroded and broken through upwards (sim/scripts/breakout.json), played by the simulator's Bybit
v5 market and recorded by the recorder with VENUES=bybit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import asyncpg

from strategy.backtest import run_backtest
from strategy.cli import run_strategy
from strategy.config import StrategyConfig
from strategy.exits import QUALITIES
from strategy.source import setup_reader
from strategy.worker import Worker
from tests.integration.recorder.conftest import wait_until
from tests.integration.strategy.conftest import record
from tests.integration.strategy.test_preset_episodes import SYMBOL, fast, script
from tests.integration.strategy.test_worker import _assert_backtest_agrees


def density_on_bybit() -> StrategyConfig:
    """The density preset, time-scaled as in test_preset_episodes, reading Bybit; holds of
    seconds, so positions open and close within the session. Its universe checks stay on (they
    read Bybit's candles, tickers and open interest) each minute instead of each 5, and without
    the 24 h volume floor: a simulated session has two minutes of history, not a day's."""
    config = fast("density")
    short = tuple((quality, 3_000) for quality in QUALITIES)
    (spec,) = config.strategies
    timed = replace(spec, exits=replace(spec.exits, max_hold_ms=short))
    universe = replace(config.universe, min_volume_24h=0.0, check_ms=60_000)
    return replace(config, venue="bybit", strategies=(timed,), universe=universe, metrics_port=0,
                   settle_ms=300, poll_ms=200)  # fmt: skip


async def _run_live_on_bybit(
    dsn: str, spool: Path, config: StrategyConfig
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], int]:
    """Store a Bybit session with the paper worker following it; its indicator rows, signals
    and the last bar it had to reach."""
    stop = asyncio.Event()
    started: list[Worker] = []
    tasks: list[asyncio.Task] = []

    async def start_worker(_sim, _recorder) -> None:
        ready = lambda worker, _port: started.append(worker)  # noqa: E731
        tasks.append(asyncio.create_task(run_strategy(dsn, config, stop, ready)))

    await record(dsn, spool, script("breakout"), 120, [SYMBOL], venues="bybit",
                 on_running=start_worker)  # fmt: skip
    conn = await asyncpg.connect(dsn)
    await setup_reader(conn)
    try:
        newest = await conn.fetchval(
            "SELECT least((SELECT max(time) FROM agg_trades WHERE venue = 'bybit'),"
            " (SELECT max(time) FROM depth_updates WHERE venue = 'bybit'))"
        )
        final = newest - newest % 1000
        worker = started[0]
        await wait_until(lambda: (worker.state.processed_ms or 0) >= final, 60, "the worker")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        live = await conn.fetch("SELECT * FROM indicators ORDER BY time, symbol")
        signals = await conn.fetch("SELECT signal_id, decision, venue FROM signals")
    finally:
        await conn.close()
    return live, signals, final


async def test_density_wall_on_bybit_live_paper_and_backtest_agree(strategy_db, tmp_path):
    config = density_on_bybit()
    assert [s.name for s in config.strategies] == ["wall"] and config.executor == "paper"
    live, signals, final = await _run_live_on_bybit(strategy_db, tmp_path / "spool", config)
    assert {r["venue"] for r in live} == {"bybit"}
    assert signals and {r["venue"] for r in signals} == {"bybit"}, "no wall signal on Bybit"
    await _assert_backtest_agrees(strategy_db, config, live, signals, final)

    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        rows = await conn.fetch(
            "SELECT position_id, exit_reason, realized_pnl, venue FROM positions"
            " WHERE status = 'closed' AND exit_time < $1",
            final,
        )
        binance = await conn.fetchval("SELECT count(*) FROM agg_trades WHERE venue = 'binance'")
    finally:
        await conn.close()
    assert binance == 0, "only Bybit was stored: the worker read Bybit's rows"
    result = await run_backtest(strategy_db, config, live[0]["time"], final, warm=True)
    replayed = {(str(t.signal_id), t.exit_reason, round(t.pnl, 6)) for t in result.trades
                if t.exit_time_ms < final}  # fmt: skip
    assert rows, f"no trade closed live: this compares nothing ({signals})"
    assert {r["venue"] for r in rows} == {"bybit"}
    assert {(str(r["position_id"]), r["exit_reason"], round(r["realized_pnl"], 6))
            for r in rows} == replayed  # fmt: skip
