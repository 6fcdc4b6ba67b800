"""SYMBOLS=top:N re-evaluated live: a symbol that enters the top gets its streams, book and rows;
one that leaves stops; the SUBSCRIBE/UNSUBSCRIBE messages stay paced under 10/s."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp
import orjson

from collector.connection import CONTROL_INTERVAL
from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import settle, start_market

SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT"]
VOLUMES = {"BTCUSDT": "4e9", "ETHUSDT": "3e9", "BNBUSDT": "2e9", "SOLUSDT": "1e9"}


async def _set_volume(http: aiohttp.ClientSession, sim: Simulator, symbol: str, v: str) -> None:
    body = {"symbol": symbol, "quoteVolume": v}
    async with http.post(f"{sim.http_url}/sim/quote_volume", data=orjson.dumps(body)) as r:
        assert r.status == 200, await r.text()


async def test_top_n_is_re_evaluated_and_applied_live(db, start_recorder, http):
    async with Simulator(SYMBOLS, seed=17, rate=300, record_truth=True, paused=True) as sim:
        for symbol, volume in VOLUMES.items():
            sim.set_quote_volume(symbol, volume)
        async with start_recorder(sim, SYMBOLS="top:2", UNIVERSE_REFRESH="1") as running:
            recorder = running.recorder
            assert sorted(recorder.symbols) == ["BTCUSDT", "ETHUSDT"]
            await start_market(sim, running)
            books = recorder.keeper.books
            await wait_until(lambda: books["ETHUSDT"].valid, 15, "ETHUSDT's book")

            await _set_volume(http, sim, "SOLUSDT", "5e9")
            await _set_volume(http, sim, "ETHUSDT", "5e8")
            await wait_until(lambda: "SOLUSDT" in recorder.symbols, 10, "SOLUSDT to be added")
            removed_at = dt.datetime.now(dt.UTC)
            assert sorted(recorder.symbols) == ["BTCUSDT", "SOLUSDT"]
            await wait_until(lambda: books["SOLUSDT"].valid, 15, "SOLUSDT's book")
            await asyncio.sleep(2.0)  # SOLUSDT trades, depth and book tops reach the tables
            await settle(sim, running, db)
            conns = recorder.connections

    for c in conns:
        assert c.connects == 1, f"{c.name} reconnected (closed for too many messages?)"
        gaps = [b - a for a, b in zip(c.control_sent, c.control_sent[1:], strict=False)]
        assert all(g >= CONTROL_INTERVAL * 0.9 for g in gaps), f"{c.name}: {gaps}"
    assert sum(len(c.control_sent) for c in conns) >= 2  # one SUBSCRIBE and one UNSUBSCRIBE/route

    # SOLUSDT: every aggTrade from the first one received on is stored, once
    ids = [
        r["agg_trade_id"]
        for r in await db.fetch(
            "SELECT agg_trade_id FROM agg_trades WHERE symbol = 'SOLUSDT' ORDER BY agg_trade_id"
        )
    ]
    assert len(ids) > 10
    produced = [t["a"] for t in sim.truth.agg_trades["SOLUSDT"] if t["a"] >= ids[0]]
    assert ids == produced
    assert await db.fetchval("SELECT count(*) FROM depth_updates WHERE symbol = 'SOLUSDT'") > 5
    tops = await db.fetch(
        "SELECT last_update_id, bid_prices FROM book_top WHERE symbol = 'SOLUSDT'"
    )
    assert tops, "no SOLUSDT book_top rows"
    for top in tops:  # the new symbol's book is the simulator's
        truth = sim.book("SOLUSDT", top["last_update_id"])
        assert top["bid_prices"] == [float(p) for p, _ in truth["bids"][:20]]
    assert await db.fetchval(
        "SELECT count(*) FROM depth_snapshots WHERE symbol = 'SOLUSDT' AND reason = 'start'"
    )

    # ETHUSDT stopped: nothing received after its removal (a second of slack for frames in flight)
    later = removed_at + dt.timedelta(seconds=1)
    for table in ("agg_trades", "depth_updates", "mark_prices"):
        n = await db.fetchval(
            f"SELECT count(*) FROM {table} WHERE symbol = 'ETHUSDT' AND received_at > $1", later
        )
        assert n == 0, f"{table}: {n} ETHUSDT rows after its removal"
    assert await db.fetchval("SELECT count(*) FROM agg_trades WHERE symbol = 'ETHUSDT'") > 0
    assert await db.fetchval("SELECT count(*) FROM agg_trades WHERE symbol = 'BNBUSDT'") == 0

    events = await db.fetch("SELECT details FROM recorder_events WHERE kind = 'universe'")
    assert [orjson.loads(e["details"]) for e in events] == [
        {"added": ["SOLUSDT"], "removed": ["ETHUSDT"], "symbols": ["SOLUSDT", "BTCUSDT"]}
    ]
