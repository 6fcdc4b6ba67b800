"""The stale-data watchdog against the simulator and the real database: a close that fails is
retried until flat, a database outage leaves the position protected and watched, and a quiet
symbol whose streams are alive is left alone.

STALE_FLATTEN_AFTER is 1 s instead of 30 s; the executor's database outage lasts the full 60 s
(the whole worker's, 3 s: it restarts around the same executor at any length)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from strategy.binance.executor import BinanceExecutor
from strategy.cli import run_strategy
from strategy.config import IndicatorParams, StrategyConfig
from strategy.signals import Side
from strategy.worker import Worker
from tests.integration.execution.helpers import (
    config_for,
    eventually,
    make_signal,
    position_row,
    record_streams,
    wait_state,
)
from tests.integration.recorder.tcp_proxy import TcpProxy

Factory = Callable[..., Awaitable[BinanceExecutor]]
LIMIT = 1.0  # s: STALE_FLATTEN_AFTER in these tests
OUTAGE = 60.0  # s: how long the executor's database is gone


def lots(sim: Simulator, symbol: str = "BTCUSDT") -> int:
    return sim.accounts[DEFAULT_API_KEY].position(symbol).lots


def algo_status(sim: Simulator, cid: str) -> str:
    algo = sim.accounts[DEFAULT_API_KEY].find_algo(None, cid)
    return algo.status if algo is not None else ""


@contextlib.asynccontextmanager
async def streams_alive(db: asyncpg.Pool, symbol: str = "BTCUSDT") -> AsyncIterator[None]:
    """The recorder receiving the symbol's mark price and depth diffs, but no trade."""

    async def beat() -> None:
        while True:
            await record_streams(db, symbol)
            await asyncio.sleep(0.2)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_close_that_fails_three_times_is_retried_until_flat(
    executor_factory: Factory,
    exchange: Simulator,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = await executor_factory(stale_flatten_after=LIMIT)
    executor.watchdog.retry_initial = 0.1
    async with streams_alive(pool):
        signal = make_signal(exchange, Side.LONG)
        await executor.enter(signal, 0.01)
        assert lots(exchange) == 10
        await eventually(lambda: _true(executor.stream.connected.is_set()))  # reconciled
        # the exchange unreachable for the watchdog's next three closes (each starts by listing
        # the open orders to cancel)
        exchange.faults.rest_error(503, count=3, path="/fapi/v1/openOrders")
    # the streams stop: the watchdog flattens, fails three times, then succeeds
    row = await wait_state(pool, signal, "closed")
    assert row["reason"].startswith("flatten: stale market data: streams silent")
    assert lots(exchange) == 0
    assert exchange.faults.state()["rest_faults"] == []  # all three were hit
    failures = [
        r.getMessage() for r in caplog.records if "closing BTCUSDT failed" in r.getMessage()
    ]
    assert len(failures) == 3 and all("HTTP 503" in m for m in failures)
    assert [m.split(":")[0] for m in failures] == [
        f"closing BTCUSDT failed (attempt {n}" for n in (1, 2, 3)
    ]
    assert executor.watchdog.flattened == ["BTCUSDT"]


async def test_quiet_symbol_with_live_streams_is_not_flattened(
    executor_factory: Factory, exchange: Simulator, pool: asyncpg.Pool
) -> None:
    limit = 2 * LIMIT  # a loaded box can stall the heartbeat (every 0.2 s) for most of a second
    executor = await executor_factory(stale_flatten_after=limit)
    signal = make_signal(exchange, Side.LONG)
    async with streams_alive(pool):
        await executor.enter(signal, 0.01)
        await asyncio.sleep(2.5 * limit)  # no trade recorded all along: its only trade is older
        newest_trade = await pool.fetchval(
            "SELECT extract(epoch FROM now() - max(time)) FROM agg_trades WHERE symbol = 'BTCUSDT'"
        )
        assert newest_trade > 2 * limit
        assert lots(exchange) == 10 and executor.open_symbols() == {"BTCUSDT"}
        assert (await position_row(pool, signal))["state"] == "open"  # type: ignore[index]
    # the same watchdog flattens it once its streams do go silent
    await wait_state(pool, signal, "closed")
    assert lots(exchange) == 0


async def test_database_outage_with_an_open_position_keeps_it_protected(
    exchange: Simulator, pool: asyncpg.Pool, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    proxy = TcpProxy.for_url(database_url)
    await proxy.start()
    executor_pool = await asyncpg.create_pool(proxy.url(database_url), min_size=1, max_size=2)
    config = config_for(exchange, stale_flatten_after=LIMIT)
    executor = await BinanceExecutor.create(config, executor_pool)
    try:
        signal = make_signal(exchange, Side.LONG, stop_pct=0.003)
        stop_id = f"fl-{signal.signal_id.hex[:20]}-sl"
        async with streams_alive(pool):
            await executor.enter(signal, 0.01)
            assert algo_status(exchange, stop_id) == "NEW"
            await proxy.cut()  # the database is gone for the executor, and the recorder stalls
        cut_at = asyncio.get_running_loop().time()
        await asyncio.sleep(OUTAGE / 2)
        assert executor.watchdog.db_down_since is not None  # it noticed, and kept running
        assert all(not task.done() for task in executor._tasks)
        assert lots(exchange) == 10 and algo_status(exchange, stop_id) == "NEW"  # not flattened
        # the market falls through the stop meanwhile: the exchange closes the position
        exchange.trade_to("BTCUSDT", f"{signal.stop - 1:.1f}")
        await eventually(lambda: _true(lots(exchange) == 0))
        await asyncio.sleep(cut_at + OUTAGE - asyncio.get_running_loop().time())
        assert all(not task.done() for task in executor._tasks)
        await proxy.restore()
        await asyncio.sleep(0.5)  # the recorder replays its spool a moment after
        async with streams_alive(pool):
            row = await wait_state(pool, signal, "closed")
            await asyncio.sleep(2 * LIMIT)
        assert row["reason"].startswith("closed by stop")
        assert algo_status(exchange, stop_id) in ("TRIGGERED", "FINISHED")
        assert "stale" not in (await position_row(pool, signal))["reason"]  # type: ignore[index]
        assert executor.watchdog.flattened == [] and executor.watchdog.db_down_since is None
        assert any("database unreachable" in r.getMessage() for r in caplog.records)
    finally:
        await executor.close()
        await executor_pool.close()
        await proxy.close()


async def _true(value: bool) -> bool:
    return value


async def test_the_worker_keeps_its_executor_through_a_database_outage(
    exchange: Simulator,
    pool: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The whole worker on a database that goes away: it restarts around the same executor,
    which keeps following the exchange and reconciles once the database is back."""
    monkeypatch.setenv("BINANCE_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", DEFAULT_API_SECRET)
    monkeypatch.setenv("BINANCE_TRADE_REST_URL", exchange.http_url)
    monkeypatch.setenv("BINANCE_TRADE_WS_URL", exchange.ws_url)
    monkeypatch.setenv("STALE_FLATTEN_AFTER", "1h")
    proxy = TcpProxy.for_url(database_url)
    await proxy.start()
    config = StrategyConfig(
        symbols=("BTCUSDT",), executor="binance", strategies=(), metrics_port=0, poll_ms=200,
        indicators=IndicatorParams(bar_ms=1000, tick_size=0.1),
    )  # fmt: skip
    workers: list[Worker] = []
    stop = asyncio.Event()
    await record_streams(pool, "BTCUSDT")
    task = asyncio.create_task(
        run_strategy(proxy.url(database_url), config, stop, on_ready=lambda w, _: workers.append(w))
    )
    try:
        worker = await eventually(lambda: _value(workers and workers[0].exchange and workers[0]))
        executor = worker.exchange
        assert executor is not None
        await eventually(lambda: _true(executor.stream.connected.is_set()))
        signal = make_signal(exchange, Side.LONG, stop_pct=0.003)
        await executor.enter(signal, 0.01)
        assert lots(exchange) == 10

        await proxy.cut()
        exchange.trade_to("BTCUSDT", f"{signal.stop - 1:.1f}")  # the stop fills meanwhile
        await eventually(lambda: _true(lots(exchange) == 0))
        await asyncio.sleep(3.0)
        assert worker.exchange is executor and not task.done()
        assert all(not t.done() for t in executor._tasks)
        await proxy.restore()
        row = await wait_state(pool, signal, "closed")
        assert row["reason"].startswith("closed by stop")
        assert worker.exchange is executor  # the same executor, never closed in between
        restarts = [r for r in caplog.records if "restarting from its last" in r.getMessage()]
        assert restarts, "the worker itself did stop with the database"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await proxy.close()
    assert worker.exchange is None and executor._tasks == []  # closed once, at the end


async def _value(value: object) -> object:
    return value
