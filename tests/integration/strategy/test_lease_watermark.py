"""Issue 21: with recorders sharing the symbols through leases, the strategy worker's watermark is
the minimum over the live recorders, and a recorder that died holding leases keeps the worker at
its last watermark until the symbols are taken over and their takeover repaired."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import asyncpg

from db import leases
from strategy.worker import LEASE_POLL, Worker
from tests.integration.strategy.test_worker import fast_config

T0 = 1_800_000_000_000  # ms


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


async def _cutoff(worker: Worker, db: asyncpg.Connection) -> int:
    await asyncio.sleep(LEASE_POLL)
    await worker._read_leases(db)
    return worker.cutoff()


async def test_a_dead_lease_holder_holds_the_worker_until_its_takeover_is_repaired(
    db, database_url: str
):
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    worker = Worker(fast_config(), database_url)
    alive, dead = "hostb:2:1.000", "hosta:1:1.000"
    await leases.offer(db, "usdm", ["BTCUSDT", "ETHUSDT"])
    assert await leases.take(db, "usdm", dead, ["BTCUSDT"], 1, 0.5) == ["BTCUSDT"]
    assert await leases.take(db, "usdm", alive, ["ETHUSDT"], 1, 60) == ["ETHUSDT"]
    await leases.renew(db, "usdm", dead, 0.5, _at(T0))  # its last renewal, then silence
    worker._on_committed(None, 0, "flowline_committed", f"{T0 + 9_000} {alive}")
    assert await _cutoff(worker, db) == T0, "the silent holder's last watermark"

    await asyncio.sleep(0.6)  # the dead recorder's lease expires: the live one takes it over
    assert await leases.take(db, "usdm", alive, ["BTCUSDT"], 1, 60) == ["BTCUSDT"]
    worker._on_committed(None, 0, "flowline_committed", f"{T0 + 12_000} {alive}")
    assert await _cutoff(worker, db) == T0, "held until the takeover is repaired"

    await leases.settled(db, "usdm", alive, ["BTCUSDT"])
    assert await _cutoff(worker, db) == T0 + 12_000, "only the live recorder is left"
    row = await db.fetchrow(
        "SELECT owner, previous_owner FROM recorder_leases WHERE symbol='BTCUSDT'"
    )
    assert tuple(row) == (alive, None)


async def test_without_leases_the_cutoff_is_the_minimum_of_the_recorders_heard():
    worker = Worker(fast_config(), "postgresql://unused@127.0.0.1/none")
    now = int(time.time() * 1000)
    worker._on_committed(None, 0, "flowline_committed", f"{now} a")
    worker._on_committed(None, 0, "flowline_committed", f"{now - 500} b")
    assert worker.cutoff() == now - 500
