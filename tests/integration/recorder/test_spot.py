"""MARKETS=futures,spot: simulator (futures + spot) → recorder → TimescaleDB, compared with the
simulator's ground truth of both markets."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from sim.server import Simulator
from sim.truth import Truth
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import start_market
from tests.integration.recorder.tcp_proxy import TcpProxy
from tests.sim_fixtures import make_simulator

FUTURES = ["BTCUSDT", "ETHUSDT"]
SPOT = ["BTCUSDT"]  # ETHUSDT is futures-only in this market: the recorder must leave it out


@pytest.fixture
async def spot_sim() -> AsyncIterator[Simulator]:
    simulator = make_simulator(symbols=FUTURES, spot_symbols=SPOT)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def spot_env(sim: Simulator) -> dict[str, str]:
    return {
        "MARKETS": "futures,spot",
        "BINANCE_SPOT_WS_URL": sim.spot_ws_url,
        "BINANCE_SPOT_REST_URL": sim.http_url,
    }


async def _books_valid(running) -> None:
    recorder = running.recorder
    books = [*recorder.keeper.books.values(), *recorder.spot.keeper.books.values()]
    await wait_until(lambda: all(b.valid for b in books), 20, "futures and spot books in sync")


async def _finish(sim: Simulator, running, db: asyncpg.Connection) -> None:
    """Wait for a fresh trade on every market and symbol, stop the market, close every hole,
    stop the recorder (it flushes)."""
    since = time.monotonic()
    recorder = running.recorder
    keys = [
        (handler.last_seen, f"{handler.prefix}aggTrade:{symbol}")
        for handler, symbols in (
            (recorder.handler, recorder.symbols),
            (recorder.spot.handler, recorder.spot.symbols),
        )
        for symbol in symbols  # the ones still recorded: a symbol out of top:N trades no more
    ]
    await wait_until(lambda: all(d.get(k, 0) > since for d, k in keys), 60, "a trade per symbol")
    sim.pause()
    await asyncio.sleep(0.5)  # the last frames and the gap rows they opened reach the database

    async def no_open_gaps() -> bool:
        return not await db.fetchval("SELECT count(*) FROM data_gaps WHERE status = 'open'")

    deadline = time.monotonic() + 60
    while not await no_open_gaps():
        assert time.monotonic() < deadline, "gaps still open"
        await asyncio.sleep(0.2)
    await running.finish()


async def _assert_trades_exact(
    db: asyncpg.Connection, truth: Truth, symbol: str, market: str
) -> int:
    """The stored aggTrades of (symbol, market) are the produced ones, once, decimal-equal."""
    produced = {t["a"]: t for t in truth.agg_trades[symbol]}
    rows = await db.fetch(
        "SELECT agg_trade_id, price, qty, is_buyer_maker, first_trade_id, last_trade_id"
        " FROM agg_trades WHERE symbol = $1 AND market = $2",
        symbol,
        market,
    )
    ids = [r["agg_trade_id"] for r in rows]
    assert len(produced) > 20, f"{market} {symbol}: too few trades to prove much"
    assert len(ids) == len(set(ids)), f"{market} {symbol}: duplicates"
    assert set(ids) == set(produced), f"{market} {symbol}: {set(produced) ^ set(ids)}"
    for r in rows:
        t = produced[r["agg_trade_id"]]
        assert Decimal(repr(r["price"])) == Decimal(t["p"]) and r["is_buyer_maker"] is t["m"]
        assert Decimal(repr(r["qty"])) == Decimal(t["q"])
        assert (r["first_trade_id"], r["last_trade_id"]) == (t["f"], t["l"])
    return len(ids)


async def _stored_diffs(db: asyncpg.Connection, symbol: str, market: str) -> list[int]:
    rows = await db.fetch(
        "SELECT final_update_id FROM depth_updates WHERE symbol = $1 AND market = $2",
        symbol,
        market,
    )
    return [r["final_update_id"] for r in rows]


async def _gaps(db: asyncpg.Connection, stream: str, market: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT symbol, first_id, last_id, status FROM data_gaps WHERE stream = $1 AND market = $2",
        stream,
        market,
    )


async def test_spot_is_recorded_beside_futures(db, start_recorder, spot_sim):
    sim = spot_sim
    async with start_recorder(sim, **spot_env(sim)) as running:
        assert running.recorder.spot.symbols == SPOT
        await start_market(sim, running)
        await _books_valid(running)
        await asyncio.sleep(3)
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{running.recorder.metrics_port}"
            async with http.get(base + "/health") as resp:
                health = await resp.json()
                assert resp.status == 200, health
            async with http.get(base + "/metrics") as resp:
                metrics_text = await resp.text()
        await _finish(sim, running, db)

    # /health and /metrics tell spot apart; the existing names and labels stay
    assert {"spot:aggTrade:BTCUSDT", "spot:depthUpdate:BTCUSDT", "aggTrade:BTCUSDT"} <= set(
        health["streams"]
    )
    assert "spot:ETHUSDT" not in health["books_valid"] and health["books_valid"]["spot:BTCUSDT"]
    for needle in (
        'flowline_messages_total{kind="spot:aggTrade"}',
        'flowline_messages_total{kind="aggTrade"}',
        'flowline_book_valid{symbol="spot:BTCUSDT"}',
        "flowline_spot_rest_weight_used",
        'flowline_reconnects_total{connection="spot-0"}',
    ):
        assert needle in metrics_text, needle

    spot_rows = await _assert_trades_exact(db, sim.spot_truth, "BTCUSDT", "spot")
    futures_rows = [await _assert_trades_exact(db, sim.truth, s, "usdm") for s in FUTURES]
    assert spot_rows and all(futures_rows)
    assert not await db.fetchval(
        "SELECT count(*) FROM agg_trades WHERE symbol = 'ETHUSDT' AND market = 'spot'"
    )
    # every spot diff of the 100 ms stream, and futures' as before
    spot_sent = [d["u"] for d in sim.spot_truth.depth_events["BTCUSDT", 100]]
    assert len(spot_sent) > 20 and sorted(await _stored_diffs(db, "BTCUSDT", "spot")) == spot_sent
    for symbol in FUTURES:
        futures_sent = {d["u"] for d in sim.truth.depth_events[symbol, 100]}
        assert set(await _stored_diffs(db, symbol, "usdm")) == futures_sent

    # spot book_top equals the simulator's spot book at the same update id
    tops = await db.fetch(
        "SELECT last_update_id, best_bid_price, bid_prices, bid_qtys, ask_prices, ask_qtys"
        " FROM book_top WHERE symbol = 'BTCUSDT' AND market = 'spot'"
    )
    assert len(tops) >= 4
    for top in tops:
        book = sim.spot_book("BTCUSDT", top["last_update_id"])
        assert top["bid_prices"] == [float(p) for p, _ in book["bids"][:20]]
        assert top["bid_qtys"] == [float(q) for _, q in book["bids"][:20]]
        assert top["ask_prices"] == [float(p) for p, _ in book["asks"][:20]]
        assert top["ask_qtys"] == [float(q) for _, q in book["asks"][:20]]
        assert top["best_bid_price"] == top["bid_prices"][0]
    snapshots = await db.fetchval(
        "SELECT count(*) FROM depth_snapshots WHERE market = 'spot' AND reason = 'start'"
    )
    assert snapshots == 1
    assert not await _gaps(db, "agg_trades", "spot") and not await _gaps(
        db, "depth_updates", "spot"
    )


@contextlib.asynccontextmanager
async def spot_link(sim: Simulator) -> AsyncIterator[tuple[TcpProxy, dict[str, str]]]:
    """A cuttable link between the recorder and the simulator's spot WebSocket, and the env
    that routes spot through it: a cut lasts as long as the test says, so something is missed."""
    link = TcpProxy.for_url(sim.spot_ws_url)
    await link.start()
    try:
        yield link, spot_env(sim) | {"BINANCE_SPOT_WS_URL": link.url(sim.spot_ws_url)}
    finally:
        await link.close()


async def _cut_spot(link: TcpProxy, running, seconds: float) -> None:
    """Cut the spot link for ``seconds`` and wait for spot diffs again."""
    spot_seen = running.recorder.spot.handler.last_seen
    await link.cut()
    await asyncio.sleep(seconds)
    await link.restore()
    back = time.monotonic()
    await wait_until(lambda: spot_seen["spot:depthUpdate:BTCUSDT"] > back, 30, "spot back")


async def _assert_spot_depth_explained(db: asyncpg.Connection, sim: Simulator) -> list:
    """Every spot diff is stored or inside a recorded (resynced) gap; none invented."""
    depth_gaps = await _gaps(db, "depth_updates", "spot")
    assert depth_gaps and all(g["status"] == "resynced" for g in depth_gaps), depth_gaps
    sent = [d["u"] for d in sim.spot_truth.depth_events["BTCUSDT", 100]]
    stored = await _stored_diffs(db, "BTCUSDT", "spot")
    assert len(stored) == len(set(stored)) and set(stored) <= set(sent)
    lost = [u for u in sent if u not in stored]
    unexplained = [
        u for u in lost if not any(g["first_id"] <= u <= g["last_id"] for g in depth_gaps)
    ]
    assert lost and not unexplained, (len(lost), unexplained[:10], depth_gaps)
    return depth_gaps


async def test_dropped_spot_connection_is_backfilled_and_resynced(db, start_recorder, spot_sim):
    sim = spot_sim
    async with spot_link(sim) as (link, env), start_recorder(sim, **env) as running:
        await start_market(sim, running)
        await _books_valid(running)
        for _ in range(2):
            await asyncio.sleep(1.0)
            await _cut_spot(link, running, 1.0)
        await _books_valid(running)
        await _finish(sim, running, db)

    await _assert_trades_exact(db, sim.spot_truth, "BTCUSDT", "spot")
    for symbol in FUTURES:
        await _assert_trades_exact(db, sim.truth, symbol, "usdm")
    trade_gaps = await _gaps(db, "agg_trades", "spot")
    assert trade_gaps and all(g["status"] == "repaired" for g in trade_gaps), trade_gaps
    await _assert_spot_depth_explained(db, sim)
    resyncs = await db.fetchval(
        "SELECT count(*) FROM depth_snapshots WHERE market = 'spot' AND reason = 'resync'"
    )
    assert resyncs >= 1
    # futures did not notice
    assert not await _gaps(db, "agg_trades", "usdm") and not await _gaps(
        db, "depth_updates", "usdm"
    )


async def test_a_second_break_while_the_resync_is_pending_is_declared_too(
    db, start_recorder, spot_sim
):
    """Case 5: every break gets its own declared range; one resync may close several."""
    sim = spot_sim
    async with spot_link(sim) as (link, env), start_recorder(sim, **env) as running:
        await start_market(sim, running)
        await _books_valid(running)
        sim.faults.slow_rest(4.0)  # the resync snapshot is on its way for 4 s
        await _cut_spot(link, running, 0.5)
        assert not running.recorder.spot.keeper.books["BTCUSDT"].valid
        await _cut_spot(link, running, 0.5)  # a second break inside the resync window
        assert not running.recorder.spot.keeper.books["BTCUSDT"].valid
        sim.faults.slow_rest(0)
        await _books_valid(running)
        await _finish(sim, running, db)
    depth_gaps = await _assert_spot_depth_explained(db, sim)
    assert len(depth_gaps) >= 2


async def test_no_spot_book_top_row_while_its_connection_is_down(db, start_recorder, spot_sim):
    """Case 12: a book whose stream is down is not in sync."""
    sim = spot_sim
    async with spot_link(sim) as (link, env), start_recorder(sim, **env) as running:
        await start_market(sim, running)
        await _books_valid(running)
        await asyncio.sleep(1.5)
        await link.cut()
        cut_at = dt.datetime.now(dt.UTC)
        await asyncio.sleep(3.0)
        restored_at = dt.datetime.now(dt.UTC)
        await link.restore()
        await _books_valid(running)
        await asyncio.sleep(1.0)
        await _finish(sim, running, db)
    while_down = await db.fetchval(
        "SELECT count(*) FROM book_top WHERE market = 'spot' AND time > $1 AND time < $2",
        cut_at + dt.timedelta(seconds=0.2),
        restored_at,
    )
    assert while_down == 0
    tops = await db.fetch(
        "SELECT last_update_id, bid_prices FROM book_top WHERE market = 'spot' AND symbol = $1",
        "BTCUSDT",
    )
    assert len(tops) >= 4
    for top in tops:  # the rows written are the simulator's book at their update id
        book = sim.spot_book("BTCUSDT", top["last_update_id"])
        assert top["bid_prices"] == [float(p) for p, _ in book["bids"][:20]]


async def test_spot_follows_the_top_n_universe_for_symbols_listed_on_spot(db, start_recorder):
    sim = make_simulator(
        symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], spot_symbols=["BTCUSDT", "SOLUSDT"]
    )
    for symbol, volume in (("BTCUSDT", "4e9"), ("ETHUSDT", "3e9"), ("SOLUSDT", "1e9")):
        sim.set_quote_volume(symbol, volume)
    async with sim:
        env = spot_env(sim) | {"SYMBOLS": "top:2", "UNIVERSE_REFRESH": "1"}
        async with start_recorder(sim, **env) as running:
            spot = running.recorder.spot
            assert spot.symbols == ["BTCUSDT"]  # ETHUSDT is in the top 2 but not on spot
            await start_market(sim, running)
            sim.set_quote_volume("SOLUSDT", "5e9")  # SOLUSDT enters, ETHUSDT leaves
            await wait_until(lambda: "SOLUSDT" in spot.symbols, 10, "spot to add SOLUSDT")
            seen = spot.handler.last_seen
            await wait_until(lambda: "spot:aggTrade:SOLUSDT" in seen, 15, "SOLUSDT spot trades")
            await wait_until(lambda: spot.keeper.books["SOLUSDT"].valid, 15, "SOLUSDT spot book")
            assert sorted(spot.symbols) == ["BTCUSDT", "SOLUSDT"]
            names = [n for c in spot.subscriptions.connections for n in c.streams]
            assert "solusdt@aggTrade" in names and "ethusdt@aggTrade" not in names
            await _finish(sim, running, db)
    stored = await db.fetchval(
        "SELECT count(*) FROM agg_trades WHERE symbol = 'SOLUSDT' AND market = 'spot'"
    )
    assert stored > 0
    assert not await db.fetchval(
        "SELECT count(*) FROM agg_trades WHERE market = 'spot' AND symbol = 'ETHUSDT'"
    )


async def test_spot_server_shutdown_is_met_with_an_overlapping_replacement(
    db, start_recorder, spot_sim
):
    """Case 11: spot announces ``serverShutdown`` before it closes a connection; the recorder
    replaces it at once with an overlap, as before the 24 h cut, so nothing is missed."""
    sim = spot_sim
    async with start_recorder(sim, **spot_env(sim)) as running:
        await start_market(sim, running)
        await _books_valid(running)
        await asyncio.sleep(0.5)
        # the close comes well after the successor's 1 s hand-off drain, even on a slow box
        assert sim.faults.server_shutdown(route="spot", close_after=3.0) == 1
        await asyncio.sleep(3.5)
        await _books_valid(running)
        bad = dict(running.recorder.spot.handler.bad.counts)
        await _finish(sim, running, db)
    assert not bad, bad
    await _assert_trades_exact(db, sim.spot_truth, "BTCUSDT", "spot")
    assert not await _gaps(db, "depth_updates", "spot") and not await _gaps(
        db, "agg_trades", "spot"
    )
    sent = [d["u"] for d in sim.spot_truth.depth_events["BTCUSDT", 100]]
    assert sorted(await _stored_diffs(db, "BTCUSDT", "spot")) == sent
    kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM recorder_events")]
    assert "server_shutdown" in kinds


async def test_spot_exchange_info_is_read_again_and_followed(db, start_recorder, spot_sim):
    """Case 11: a spot symbol that stops trading leaves the spot recording and comes back."""
    sim = spot_sim
    env = spot_env(sim) | {"UNIVERSE_REFRESH": "1"}
    async with start_recorder(sim, **env) as running:
        spot = running.recorder.spot
        await start_market(sim, running)
        await _books_valid(running)
        sim.set_spot_status("BTCUSDT", "BREAK")
        await wait_until(lambda: spot.symbols == [], 10, "BTCUSDT to leave spot")
        assert not [n for c in spot.subscriptions.connections for n in c.streams]
        sim.set_spot_status("BTCUSDT")
        await wait_until(lambda: spot.symbols == ["BTCUSDT"], 10, "BTCUSDT back on spot")
        await wait_until(lambda: spot.keeper.books["BTCUSDT"].valid, 15, "its book in sync")
        since = time.monotonic()
        seen = spot.handler.last_seen
        await wait_until(lambda: seen.get("spot:aggTrade:BTCUSDT", 0) > since, 15, "trades")
        await _finish(sim, running, db)
