"""EXECUTION=binance end to end: the live worker's accepted signals become orders on the
simulator's signed trading endpoints, with their protective stop, tracked in the database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim.server import Simulator
from strategy.cli import run_strategy
from tests.integration.strategy.test_worker import SCRIPT, SYMBOLS, fast_config


@pytest.fixture
async def execution_db(strategy_db: str) -> str:
    conn = await asyncpg.connect(strategy_db)
    try:
        await conn.execute("TRUNCATE exchange_orders, exchange_positions")
    finally:
        await conn.close()
    return strategy_db


async def test_accepted_signals_are_traded_on_the_exchange_with_a_stop(
    record_session, execution_db, monkeypatch
):
    config = fast_config(executor="binance")
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []

    async def start_worker(sim: Simulator, recorder) -> None:
        monkeypatch.setenv("BINANCE_API_KEY", DEFAULT_API_KEY)
        monkeypatch.setenv("BINANCE_API_SECRET", DEFAULT_API_SECRET)
        monkeypatch.setenv("BINANCE_TRADE_REST_URL", sim.http_url)
        monkeypatch.setenv("BINANCE_TRADE_WS_URL", sim.ws_url)
        monkeypatch.setenv("STALE_FLATTEN_AFTER", "1h")  # the session ends; that's not staleness
        tasks.append(asyncio.create_task(run_strategy(execution_db, config, stop)))

    await record_session(SCRIPT, 150, symbols=list(SYMBOLS), speed=10, on_running=start_worker)
    await asyncio.sleep(2)  # entries placed in the background finish
    stop.set()
    await asyncio.wait_for(tasks[0], 30)

    conn = await asyncpg.connect(execution_db)
    try:
        accepted = await conn.fetch(
            "SELECT signal_id, symbol, side FROM signals WHERE decision = 'accepted'"
        )
        orders = await conn.fetch("SELECT signal_id, role, status FROM exchange_orders")
        positions = await conn.fetch("SELECT signal_id, state FROM exchange_positions")
        paper = await conn.fetchval("SELECT count(*) FROM positions")
    finally:
        await conn.close()
    assert accepted, "the demo script should make at least one accepted signal"
    assert paper == 0  # the paper executor is off when trading on the exchange
    roles: dict[object, set[str]] = {}
    for row in orders:
        roles.setdefault(row["signal_id"], set()).add(row["role"])
    traded = {p["signal_id"] for p in positions}
    assert {r["signal_id"] for r in accepted} <= traded
    for signal in accepted:
        if dict((p["signal_id"], p["state"]) for p in positions)[signal["signal_id"]] != "rejected":
            assert {"entry", "stop"} <= roles[signal["signal_id"]], roles
