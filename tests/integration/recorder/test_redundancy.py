"""Issue 21, done when: with ``REDUNDANCY=2`` two recorder processes record every symbol at once;
one of the pair is killed with ``kill -9`` and restarted, again and again (the leader and the
standby in turn), and nothing is lost: every aggTrade and every depth diff the simulator sent is
stored exactly once, with no gap declared for either; the clock-stamped rows have one writer."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg

from sim.server import Simulator
from tests.integration.recorder.conftest import recorder_env, wait_until
from tests.integration.recorder.invariants import (
    DEPTH_SPEED_MS,
    assert_agg_trades_exact,
    eventually,
    no_open_gaps,
)
from tests.integration.recorder.recorder_process import RecorderProcess
from tests.integration.recorder.test_recorder_processes import _free_port

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
LEASE_TIMEOUT = 2.0
KILLS = 4  # the leader (of most symbols), the other, the leader, the other
BOOK_TOP_INTERVAL = 0.5


async def _copies(db: asyncpg.Connection) -> dict[str, tuple[str | None, list[str]]]:
    """symbol -> (its leader, its live standbys), as psql shows them."""
    rows = await db.fetch("SELECT symbol, leader, standbys FROM recorder_redundancy")
    return {r["symbol"]: (r["leader"], list(r["standbys"] or [])) for r in rows}


async def _both_record_all(db: asyncpg.Connection, recorders: list[RecorderProcess]) -> bool:
    """Every symbol has a leader and a standby, the two running recorders (not a killed one
    whose lease has not expired yet)."""
    pids = sorted(str(r.pid) for r in recorders)
    copies = await _copies(db)
    return sorted(copies) == sorted(SYMBOLS) and all(
        leader is not None
        and len(standbys) == 1
        and sorted(o.split(":")[1] for o in (leader, *standbys)) == pids
        for leader, standbys in copies.values()
    )


async def _books_valid(http: aiohttp.ClientSession, port: int) -> bool:
    """The recorder on ``port`` holds every symbol and has each book in sync."""
    try:
        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
            body = await resp.json()
    except (aiohttp.ClientError, OSError, ValueError):
        return False
    books = body.get("books_valid", {})
    return sorted(books) == sorted(SYMBOLS) and all(books.values())


async def _assert_depth_exact(db: asyncpg.Connection, sim: Simulator) -> int:
    total = 0
    for symbol in SYMBOLS:
        sent = [d["u"] for d in sim.truth.depth_events[symbol, DEPTH_SPEED_MS]]
        stored = [
            r[0]
            for r in await db.fetch(
                "SELECT final_update_id FROM depth_updates WHERE symbol = $1", symbol
            )
        ]
        assert len(sent) > 50, f"{symbol}: too few diffs to prove much"
        assert len(stored) == len(set(stored)), f"{symbol}: duplicate depth diffs"
        missing = sorted(set(sent) - set(stored))
        assert not missing, f"{symbol}: {len(missing)} depth diffs missing: {missing[:10]}"
        assert set(stored) <= set(sent), f"{symbol}: diffs the simulator never sent"
        total += len(stored)
    return total


async def _assert_one_book_top_writer(db: asyncpg.Connection, span: float) -> None:
    """Two writers would store about twice the samples one stores every BOOK_TOP_INTERVAL."""
    for symbol in SYMBOLS:
        n = await db.fetchval("SELECT count(*) FROM book_top WHERE symbol = $1", symbol)
        most = span / BOOK_TOP_INTERVAL * 1.25 + 2
        assert 0 < n <= most, f"{symbol}: {n} book_top rows in {span:.0f}s: more than one writer"


async def test_redundancy_2_loses_nothing_when_either_recorder_is_killed_again_and_again(
    db, database_url: str, tmp_path: Path
):
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    sim = Simulator(
        SYMBOLS, seed=2122, rate=200, record_truth=True, paused=True, weight_limit=1_000_000
    )
    async with sim, aiohttp.ClientSession() as http:
        ports = [_free_port(), _free_port()]
        recorders = []
        for i, port in enumerate(ports):
            env = recorder_env(
                database_url,
                sim,
                tmp_path / f"spool{i}",
                REDUNDANCY="2",
                LEASE_TIMEOUT=str(LEASE_TIMEOUT),
                LEASE_MEMBERS="2",
                METRICS_PORT=str(port),
                OI_POLL_INTERVAL="5",
                BOOK_TOP_INTERVAL=str(BOOK_TOP_INTERVAL),
            )
            recorders.append(RecorderProcess(env, tmp_path / f"recorder{i}.log"))
        try:
            for r in recorders:
                await r.start()
            await eventually(
                lambda: _both_record_all(db, recorders), 30, "two copies of every symbol"
            )
            await wait_until(lambda: len(sim.hub.open) >= 2, 20, "both recorders to connect")
            await asyncio.sleep(1.0)  # the subscriptions are registered right after the handshake
            sim.resume()
            began = time.time()
            for i, port in enumerate(ports):
                await eventually(lambda p=port: _books_valid(http, p), 20, f"recorder {i} books")
            await asyncio.sleep(1.0)

            for kill in range(KILLS):
                leads = Counter(str(leader) for leader, _ in (await _copies(db)).values())
                leader_pid = int(leads.most_common(1)[0][0].split(":")[1])
                victim = next(
                    i for i, r in enumerate(recorders) if (r.pid == leader_pid) == (kill % 2 == 0)
                )
                await recorders[victim].kill()
                await asyncio.sleep(LEASE_TIMEOUT / 2)  # the other records alone meanwhile
                await recorders[victim].start()
                await eventually(
                    lambda: _both_record_all(db, recorders), 30, f"two copies after kill {kill}"
                )
                await eventually(
                    lambda p=ports[victim]: _books_valid(http, p), 20, f"restart {kill} books"
                )
                await asyncio.sleep(1.0)

            sim.pause()
            span = time.time() - began
            publishing = await db.fetchval(
                "SELECT count(DISTINCT owner) FROM recorder_leases"
                " WHERE expires_at > now() AND watermark IS NOT NULL"
            )
            assert publishing == 2, "the worker waits for both copies' watermarks"
            await asyncio.sleep(1.0)
            try:
                await eventually(lambda: no_open_gaps(db), 20, "every hole repaired")
            except AssertionError:
                raise AssertionError(await db.fetch("SELECT * FROM data_gaps")) from None
            for r in recorders:
                assert await r.stop() == 0, r.output()[-3000:]
            promotions = sum(r.output().count("now leading") for r in recorders)
            assert promotions >= KILLS // 2, "a standby took over from each killed leader"
        finally:
            for r in recorders:
                await r.__aexit__(None, None, None)

    trades = await assert_agg_trades_exact(db, sim.truth, SYMBOLS)
    diffs = await _assert_depth_exact(db, sim)
    gaps = await db.fetch(
        "SELECT symbol, stream, first_id, last_id, status, details FROM data_gaps"
    )
    assert not gaps, f"holes declared though the other recorder stored the rows: {gaps}"
    await _assert_one_book_top_writer(db, span + 2.0)
    print(f"{KILLS} kills: {trades} aggTrades and {diffs} depth diffs stored once each")
