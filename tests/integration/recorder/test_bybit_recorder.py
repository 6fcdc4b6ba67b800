"""VENUES=binance,bybit: simulator (both venues) → recorder → TimescaleDB, compared with the
simulator's Bybit ground truth: every trade once, every delta, the book rebuilt from the stored
rows equal to the simulator's, and the holes (a dropped connection, a u == 1 reset) declared in
data_gaps with venue bybit and recovered."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import asyncpg
import orjson
import pytest

from collector import bybit_side
from collector.venues import BYBIT as BYBIT_VENUE
from runtime.bootstrap import StartupError
from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import start_market
from tests.integration.recorder.tcp_proxy import TcpProxy
from tests.sim_fixtures import make_simulator

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
BYBIT = ["BTCUSDT", "SOLUSDT"]
DEPTH = 50


@pytest.fixture
async def bybit_sim() -> AsyncIterator[Simulator]:
    simulator = make_simulator(symbols=SYMBOLS, bybit_symbols=BYBIT)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def bybit_env(sim: Simulator, **env: str) -> dict[str, str]:
    return {
        "VENUES": "binance,bybit",
        "BYBIT_WS_URL": sim.bybit_ws_url,
        "BYBIT_REST_URL": sim.http_url,
        "BYBIT_SYMBOLS": ",".join(BYBIT),
        "BYBIT_DEPTH": str(DEPTH),
        **env,
    }


async def _start(sim: Simulator, running) -> None:
    """Resume the market once Bybit's books hold their first snapshot (and Binance is connected):
    the truth then holds nothing the recorder could not have seen."""
    side = running.recorder.bybit
    books = side.handler.books.values()
    await wait_until(lambda: all(b.synced for b in books), 15, "bybit's first snapshots")
    await start_market(sim, running)


def _synced(running) -> bool:
    return all(b.synced for b in running.recorder.bybit.handler.books.values())


async def _finish(sim: Simulator, running, db: asyncpg.Connection) -> None:
    """A fresh Bybit trade per symbol, stop the market, wait for no open gap, stop (flush)."""
    since = time.monotonic()
    seen = running.recorder.bybit.handler.last_seen
    keys = [f"bybit:publicTrade:{s}" for s in BYBIT]
    await wait_until(lambda: all(seen.get(k, 0) > since for k in keys), 30, "a bybit trade each")
    await wait_until(lambda: _synced(running), 30, "bybit books in sync")
    sim.pause()
    await asyncio.sleep(1.5)  # the last frames (and a splice under way) reach the database
    deadline = time.monotonic() + 30
    while await db.fetchval("SELECT count(*) FROM data_gaps WHERE status = 'open'"):
        assert time.monotonic() < deadline, "gaps still open"
        await asyncio.sleep(0.2)
    await running.finish()


async def _assert_trades_once(db: asyncpg.Connection, sim: Simulator, symbol: str) -> int:
    assert sim.bybit_truth is not None
    produced = {uuid.UUID(t["i"]): t for t in sim.bybit_truth.trades[symbol]}
    rows = await db.fetch(
        "SELECT trade_uuid, price, qty, is_buyer_maker, agg_trade_id, market, extra::text"
        " FROM agg_trades WHERE venue = 'bybit' AND symbol = $1",
        symbol,
    )
    ids = [r["trade_uuid"] for r in rows]
    assert len(produced) > 20, f"{symbol}: too few trades to prove much"
    assert len(ids) == len(set(ids)), f"{symbol}: duplicates"
    assert set(ids) == set(produced), f"{symbol}: {len(set(produced) ^ set(ids))} differ"
    for r in rows:
        t = produced[r["trade_uuid"]]
        assert Decimal(repr(r["price"])) == Decimal(t["p"])
        assert Decimal(repr(r["qty"])) == Decimal(t["v"])
        assert r["is_buyer_maker"] is (t["S"] == "Sell")
        assert r["agg_trade_id"] is None and r["market"] == "linear"
        assert '"tick_direction"' in r["extra"]
    return len(ids)


def _sent_deltas(sim: Simulator, symbol: str) -> list[int]:
    assert sim.bybit_truth is not None
    events = sim.bybit_truth.orderbook[symbol, DEPTH]
    return [e["data"]["u"] for e in events if e["type"] == "delta" and not e["skipped"]]


async def _rebuilt_book(db: asyncpg.Connection, symbol: str) -> tuple[dict, dict, int]:
    """The book from the last stored snapshot and the stored deltas after it (by u)."""
    snap = await db.fetchrow(
        "SELECT last_update_id, received_at, bid_prices, bid_qtys, ask_prices, ask_qtys"
        " FROM depth_snapshots WHERE venue = 'bybit' AND symbol = $1"
        " ORDER BY received_at DESC LIMIT 1",
        symbol,
    )
    bids = dict(zip(snap["bid_prices"], snap["bid_qtys"], strict=True))
    asks = dict(zip(snap["ask_prices"], snap["ask_qtys"], strict=True))
    # after it by arrival: a u == 1 reset starts u again, the deltas before it have larger ones
    deltas = await db.fetch(
        "SELECT final_update_id, prev_final_update_id, bid_prices, bid_qtys, ask_prices, ask_qtys"
        " FROM depth_updates WHERE venue = 'bybit' AND symbol = $1 AND received_at > $2"
        " ORDER BY final_update_id",
        symbol,
        snap["received_at"],
    )
    u = snap["last_update_id"]
    for d in deltas:
        assert d["prev_final_update_id"] == u, f"{symbol}: stored deltas do not chain at {u}"
        u = d["final_update_id"]
        for side, prices, qtys in (
            (bids, "bid_prices", "bid_qtys"),
            (asks, "ask_prices", "ask_qtys"),
        ):
            for price, qty in zip(d[prices], d[qtys], strict=True):
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
    return bids, asks, u


async def _assert_book_equals_truth(db: asyncpg.Connection, sim: Simulator, symbol: str) -> None:
    assert sim.bybit is not None
    truth = sim.bybit.book(symbol, DEPTH)
    bids, asks, u = await _rebuilt_book(db, symbol)
    assert u == truth["u"], f"{symbol}: rebuilt to u={u}, the simulator is at {truth['u']}"
    assert bids == {float(p): float(q) for p, q in truth["b"]}, symbol
    assert asks == {float(p): float(q) for p, q in truth["a"]}, symbol


async def _bybit_gaps(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT symbol, market, stream, status, start_time, end_time, details FROM data_gaps"
        " WHERE venue = 'bybit' ORDER BY detected_at"
    )


async def test_bybit_recorded_beside_binance(db, start_recorder, bybit_sim):
    sim = bybit_sim
    async with start_recorder(sim, **bybit_env(sim)) as running:
        assert running.recorder.bybit.symbols == BYBIT
        await _start(sim, running)
        await asyncio.sleep(3)
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{running.recorder.metrics_port}"
            async with http.get(base + "/health") as resp:
                health = await resp.json()
            await asyncio.sleep(1.1)  # the stats loop sets the per-venue gauges every second
            async with http.get(base + "/metrics") as resp:
                metrics_text = await resp.text()
        await _finish(sim, running, db)

    assert health["venues"]["bybit"]["connections"] == 1, health["venues"]
    assert health["venues"]["bybit"]["books_valid"] == len(BYBIT), health["venues"]
    assert health["books_valid"]["bybit:BTCUSDT"] and health["books_valid"]["BTCUSDT"]
    assert "bybit:orderbook:SOLUSDT" in health["streams"]
    for needle in (
        'flowline_venue_connections{venue="bybit"} 1.0',
        'flowline_venue_books_valid{venue="bybit"} 2.0',
        'flowline_venue_last_message_age_seconds{venue="binance"}',
        'flowline_messages_total{kind="bybit:publicTrade"}',
    ):
        assert needle in metrics_text, needle

    for symbol in BYBIT:
        assert await _assert_trades_once(db, sim, symbol)
        stored = await db.fetch(
            "SELECT final_update_id FROM depth_updates WHERE venue = 'bybit' AND symbol = $1",
            symbol,
        )
        sent = _sent_deltas(sim, symbol)
        assert len(sent) > 20 and sorted(r["final_update_id"] for r in stored) == sent
        await _assert_book_equals_truth(db, sim, symbol)
    # Binance goes on as before, in its own rows
    binance = await db.fetchval("SELECT count(*) FROM agg_trades WHERE venue = 'binance'")
    assert binance > 20 and not await db.fetchval(
        "SELECT count(*) FROM agg_trades WHERE venue = 'binance' AND agg_trade_id IS NULL"
    )
    counts = {
        table: await db.fetchval(f"SELECT count(*) FROM {table} WHERE venue = 'bybit'")
        for table in ("depth_snapshots", "book_top", "mark_prices", "open_interest")
    }
    assert all(counts.values()), counts
    reasons = await db.fetch("SELECT DISTINCT reason FROM depth_snapshots WHERE venue = 'bybit'")
    assert [r["reason"] for r in reasons] == ["start"]
    assert not await _bybit_gaps(db)
    steps = await db.fetch("SELECT symbol, step_size FROM symbols WHERE market = 'linear'")
    assert {r["symbol"] for r in steps} >= set(BYBIT) and all(r["step_size"] > 0 for r in steps)
    events = await db.fetchval(
        "SELECT count(*) FROM recorder_events WHERE venue = 'bybit' AND kind = 'connect'"
    )
    assert events == 1
    starts = await db.fetch("SELECT venue, details->'symbols' AS s FROM recorder_events"
                            " WHERE kind = 'start' ORDER BY venue")  # fmt: skip
    assert [(r["venue"], orjson.loads(r["s"])) for r in starts] == [
        ("binance", SYMBOLS),
        ("bybit", BYBIT),
    ]


async def test_bybit_drop_and_reset_declared_and_recovered(db, start_recorder, bybit_sim):
    sim = bybit_sim
    async with start_recorder(sim, **bybit_env(sim)) as running:
        await _start(sim, running)
        await asyncio.sleep(1.5)
        bad = running.recorder.bybit.handler.bad
        sim.faults.malformed_frames(1, stream="tickers.SOLUSDT")
        await wait_until(lambda: bad.counts.get("bybit:frame") == 1, 10, "the malformed frame")

        sim.faults.drop_connections(route="bybit")  # a short outage: REST's window covers it
        await wait_until(lambda: not _synced(running), 10, "the drop seen")
        await wait_until(lambda: _synced(running), 20, "books back after the drop")
        await asyncio.sleep(2)

        async with aiohttp.ClientSession() as http:  # a service restart: u == 1 snapshots
            url = f"{sim.http_url}/sim/bybit/restart"
            async with http.post(url, json={"symbol": "BTCUSDT"}) as resp:
                assert resp.status == 200, await resp.text()
        await asyncio.sleep(1.5)
        await _finish(sim, running, db)

    gaps = await _bybit_gaps(db)
    depth = [g for g in gaps if g["stream"] == "depth_updates"]
    trades = [g for g in gaps if g["stream"] == "agg_trades"]
    assert all(g["market"] == "linear" and g["status"] == "resynced" for g in depth), depth
    # the drop: one per symbol; the reset: one for BTCUSDT
    assert sorted(g["symbol"] for g in depth) == ["BTCUSDT", "BTCUSDT", "SOLUSDT"], depth
    assert any("u == 1" in g["details"] for g in depth)
    assert sorted(g["symbol"] for g in trades) == BYBIT
    assert all(g["status"] == "repaired" and g["start_time"] for g in trades), trades
    # proven by REST: every trade once all the same, and the books rebuild from stored rows
    for symbol in BYBIT:
        await _assert_trades_once(db, sim, symbol)
        await _assert_book_equals_truth(db, sim, symbol)
    reasons = await db.fetch(
        "SELECT reason, count(*) AS n FROM depth_snapshots WHERE venue = 'bybit' GROUP BY 1"
    )
    assert {r["reason"]: r["n"] for r in reasons} == {"start": 2, "resync": 3}
    malformed = await db.fetchval(
        "SELECT count(*) FROM recorder_events WHERE venue = 'bybit' AND kind = 'malformed'"
    )
    assert malformed == 1
    # the coverage views tell the venues apart: Bybit's holes are not Binance's
    holes = await db.fetch("SELECT DISTINCT venue, market FROM coverage_holes")
    assert [tuple(h) for h in holes] == [("bybit", "linear")]
    days = await db.fetch(
        "SELECT stream, sum(holes_declared) AS n FROM coverage WHERE venue = 'bybit'"
        " GROUP BY stream HAVING sum(holes_declared) > 0"
    )
    assert {d["stream"]: d["n"] for d in days} == {
        "agg_trades": len(trades),
        "depth_updates": len(depth),
    }


async def test_a_symbol_bybit_does_not_trade_stops_the_start(start_recorder, bybit_sim):
    with pytest.raises(StartupError, match="BYBIT_SYMBOLS: DOGEUSDT not trading"):
        async with start_recorder(bybit_sim, **bybit_env(bybit_sim, BYBIT_SYMBOLS="DOGEUSDT")):
            pass


async def test_bybit_alone_top_n_and_a_broken_chain(db, start_recorder, bybit_sim):
    """VENUES=bybit: Binance is never contacted (its URLs lead nowhere); BYBIT_SYMBOLS=top:1 is
    the symbol with the largest 24 h turnover; a u gap is declared and resynced."""
    sim = bybit_sim
    assert sim.bybit_rest is not None
    sim.bybit_rest.turnovers["SOLUSDT"] = "9e12"
    nowhere = {"BINANCE_WS_URL": "ws://127.0.0.1:9", "BINANCE_REST_URL": "http://127.0.0.1:9"}
    env = bybit_env(sim, VENUES="bybit", BYBIT_SYMBOLS="top:1", **nowhere)
    async with start_recorder(sim, **env) as running:
        side = running.recorder.bybit
        assert side.symbols == ["SOLUSDT"] and running.recorder.handler is None
        await wait_until(lambda: _synced(running), 15, "bybit's first snapshot")
        sim.resume()
        await asyncio.sleep(1.0)
        sim.bybit.skip_deltas("SOLUSDT", 2, DEPTH)  # two deltas never sent: u jumps by 3
        deadline = time.monotonic() + 15  # declared, then closed by the new snapshot
        while not await db.fetchval(
            "SELECT count(*) FROM data_gaps WHERE venue = 'bybit' AND status = 'resynced'"
        ):
            assert time.monotonic() < deadline, "the gap not declared and resynced"
            await asyncio.sleep(0.1)
        assert _synced(running)
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{running.recorder.metrics_port}/health"
            async with http.get(url) as resp:
                health = await resp.json()
        assert set(health["venues"]) == {"bybit"} and health["books_valid"] == {
            "bybit:SOLUSDT": True
        }
        sim.pause()
        await asyncio.sleep(1.0)
        await running.finish()

    gaps = await _bybit_gaps(db)
    assert [(g["symbol"], g["stream"], g["status"]) for g in gaps] == [
        ("SOLUSDT", "depth_updates", "resynced")
    ]
    first, last = await db.fetchrow("SELECT first_id, last_id FROM data_gaps WHERE venue = 'bybit'")
    assert last - first == 1  # exactly the two deltas withheld
    assert not await db.fetchval("SELECT count(*) FROM agg_trades WHERE venue = 'binance'")
    assert await db.fetchval("SELECT count(*) FROM agg_trades WHERE symbol = 'SOLUSDT'") > 0
    await _assert_book_equals_truth(db, sim, "SOLUSDT")


async def test_bybit_outage_beyond_the_rest_window_is_declared(
    db, start_recorder, bybit_sim, monkeypatch
):
    """A REST window of 5 trades (Bybit's is 1,000) cannot reach back over a 2 s outage: the
    trades it cannot prove are declared as an unrecoverable span, and every trade not stored
    lies in it."""
    monkeypatch.setattr(bybit_side, "RECENT_TRADES", 5)
    sim = bybit_sim
    link = TcpProxy.for_url(sim.bybit_ws_url)
    await link.start()
    env = bybit_env(sim, BYBIT_WS_URL=link.url(sim.bybit_ws_url))
    try:
        async with start_recorder(sim, **env) as running:
            await _start(sim, running)
            await asyncio.sleep(1.5)
            await link.cut()
            await wait_until(lambda: not _synced(running), 10, "the cut seen")
            await asyncio.sleep(2.0)  # trades go on meanwhile, more than the window holds
            await link.restore()
            await wait_until(lambda: _synced(running), 20, "books back after the cut")
            await asyncio.sleep(bybit_side.SPLICE_AFTER + 0.5)
            await _finish(sim, running, db)
    finally:
        await link.close()

    gaps = await db.fetch(
        "SELECT symbol, start_time, end_time, status FROM data_gaps"
        " WHERE venue = 'bybit' AND stream = 'agg_trades'"
    )
    assert sorted(g["symbol"] for g in gaps) == BYBIT
    assert all(g["status"] == "unrecoverable" and g["start_time"] < g["end_time"] for g in gaps)
    assert sim.bybit_truth is not None
    for gap in gaps:
        symbol = gap["symbol"]
        stored = await db.fetch(
            "SELECT trade_uuid FROM agg_trades WHERE venue = 'bybit' AND symbol = $1", symbol
        )
        ids = [r["trade_uuid"] for r in stored]
        assert len(ids) == len(set(ids))
        missing = [t for t in sim.bybit_truth.trades[symbol] if uuid.UUID(t["i"]) not in set(ids)]
        start, end = (int(gap[k].timestamp() * 1000) for k in ("start_time", "end_time"))
        assert missing and all(start <= t["T"] <= end for t in missing), symbol


async def test_bybit_top_n_follows_the_turnover_live(db, start_recorder, bybit_sim):
    sim = bybit_sim
    assert sim.bybit_rest is not None
    sim.bybit_rest.turnovers["SOLUSDT"] = "9e12"
    env = bybit_env(sim, VENUES="bybit", BYBIT_SYMBOLS="top:1", UNIVERSE_REFRESH="0.5")
    async with start_recorder(sim, **env) as running:
        side = running.recorder.bybit
        await wait_until(lambda: _synced(running), 15, "bybit's first snapshot")
        sim.resume()
        await asyncio.sleep(1.0)
        sim.bybit_rest.turnovers["BTCUSDT"] = "1e13"  # BTCUSDT now leads: it replaces SOLUSDT
        await wait_until(lambda: side.symbols == ["BTCUSDT"], 10, "the universe to change")
        await wait_until(lambda: _synced(running), 10, "BTCUSDT's book")
        assert set(side.handler.books) == {"BTCUSDT"}
        assert side.connections[0].topics == BYBIT_VENUE.streams("BTCUSDT", DEPTH)
        await asyncio.sleep(1.0)
        sim.pause()
        await asyncio.sleep(1.0)
        await running.finish()

    changes = await db.fetch(
        "SELECT details FROM recorder_events WHERE venue = 'bybit' AND kind = 'universe'"
    )
    assert [orjson.loads(c["details"])["added"] for c in changes] == [["BTCUSDT"]]
    # what a strategy worker on Bybit follows: the newest start or universe row of venue bybit
    declared = await db.fetch(
        "SELECT kind, details FROM recorder_events WHERE venue = 'bybit'"
        " AND kind IN ('start', 'universe') ORDER BY time"
    )
    assert [(d["kind"], orjson.loads(d["details"])["symbols"]) for d in declared] == [
        ("start", ["SOLUSDT"]),
        ("universe", ["BTCUSDT"]),
    ]
    snapshots = await db.fetch(
        "SELECT symbol, reason FROM depth_snapshots WHERE venue = 'bybit' ORDER BY time"
    )
    assert [(r["symbol"], r["reason"]) for r in snapshots] == [
        ("SOLUSDT", "start"),
        ("BTCUSDT", "start"),
    ]
    await _assert_book_equals_truth(db, sim, "BTCUSDT")
    stored = await db.fetch("SELECT trade_uuid FROM agg_trades WHERE symbol = 'BTCUSDT'")
    produced = {uuid.UUID(t["i"]) for t in sim.bybit_truth.trades["BTCUSDT"]}
    assert stored and {r["trade_uuid"] for r in stored} <= produced


async def test_bybit_restart_declares_and_repairs_the_time_between_runs(
    db, start_recorder, bybit_sim
):
    """The recorder stops while the market goes on, then starts again: the trades missed
    meanwhile come back from REST (proven: the window reaches the last stored trade) and the
    order book from the last stored delta to the new first snapshot is declared, resynced."""
    sim = bybit_sim
    env = bybit_env(sim, VENUES="bybit")
    async with start_recorder(sim, **env) as running:
        await wait_until(lambda: _synced(running), 15, "bybit's first snapshots")
        sim.resume()
        await asyncio.sleep(1.5)
        await running.finish()
    await asyncio.sleep(1.5)  # the market goes on with no recorder
    async with start_recorder(sim, **env) as running:
        await asyncio.sleep(bybit_side.SPLICE_AFTER + 0.5)
        await _finish(sim, running, db)

    gaps = await _bybit_gaps(db)
    assert sorted((g["stream"], g["symbol"], g["status"]) for g in gaps) == [
        ("agg_trades", "BTCUSDT", "repaired"),
        ("agg_trades", "SOLUSDT", "repaired"),
        ("depth_updates", "BTCUSDT", "resynced"),
        ("depth_updates", "SOLUSDT", "resynced"),
    ]
    assert all("recorder restart" in g["details"] and g["start_time"] for g in gaps), gaps
    for symbol in BYBIT:
        await _assert_trades_once(db, sim, symbol)
        await _assert_book_equals_truth(db, sim, symbol)


async def test_bybit_pings_keep_a_quiet_connection(db, start_recorder, monkeypatch):
    """Bybit closes a connection it has not heard from (here after 1.5 s): the recorder's pings
    (here every 0.5 s) keep it open while the market is paused and nothing else is sent."""
    monkeypatch.setattr(bybit_side, "PING_INTERVAL", 0.5)
    sim = make_simulator(symbols=SYMBOLS, bybit_symbols=BYBIT, bybit_idle_timeout=1.5)
    await sim.start()
    try:
        async with start_recorder(sim, **bybit_env(sim, VENUES="bybit")) as running:
            await wait_until(lambda: _synced(running), 15, "bybit's first snapshots")
            await asyncio.sleep(4.0)
            assert [c.connects for c in running.recorder.bybit.connections] == [1]
            assert _synced(running)
    finally:
        await sim.stop()
