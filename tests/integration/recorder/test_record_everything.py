"""Simulator + recorder + TimescaleDB: everything the simulator produced is stored, once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp

from sim.instruments import instrument_for
from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import start_market

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _connected(running) -> bool:
    return all(c.connects >= 1 and c.last_frame for c in running.recorder.connections)


async def test_recorder_stores_every_message_of_a_scripted_session(db, start_recorder):
    async with Simulator(SYMBOLS, seed=11, rate=400, record_truth=True, paused=True) as sim:
        async with start_recorder(sim) as running:
            await start_market(sim, running)  # the truth holds nothing sent before it connected
            await wait_until(lambda: _connected(running), 15, "both routes receiving")
            await wait_until(
                lambda: all(b.valid for b in running.recorder.keeper.books.values()), 15, "books"
            )
            await asyncio.sleep(4)
            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{running.recorder.metrics_port}"
                async with http.get(base + "/health") as resp:
                    health = await resp.json()
                    assert resp.status == 200, health
                async with http.get(base + "/metrics") as resp:
                    metrics_text = await resp.text()
            sim.pause()
            await asyncio.sleep(1.0)  # let the last frames and the last batch arrive
            await running.finish()
        truth = sim.truth
        books_at = {s: sim.book for s in SYMBOLS}

    assert health["db"] == "up" and not health["stale"]
    assert "flowline_rows_written_total" in metrics_text

    # the instruments as the simulator's exchangeInfo describes them, for the strategy's sizing
    for symbol in SYMBOLS:
        row = await db.fetchrow(
            "SELECT status, tick_size, step_size FROM symbols WHERE market='usdm' AND symbol=$1",
            symbol,
        )
        spec = instrument_for(symbol)
        assert row is not None and row["status"] == "TRADING", symbol
        assert Decimal(repr(row["tick_size"])) == Decimal(spec.tick_size)
        assert Decimal(repr(row["step_size"])) == Decimal(spec.step_size)

    # every price a view shows is on its symbol's tick (vwap is an average, not a traded price)
    candles = await db.fetchval("SELECT count(*) FROM candles_1m WHERE symbol = ANY($1)", SYMBOLS)
    off_tick = await db.fetch(
        """SELECT c.symbol, c.bucket, p.price FROM candles_1m c
           JOIN symbols s ON s.symbol = c.symbol AND s.market = c.market
           CROSS JOIN LATERAL unnest(ARRAY[c.open, c.high, c.low, c.close]) AS p(price)
           WHERE c.symbol = ANY($1) AND p.price::numeric
                 <> round(p.price::numeric / s.tick_size::numeric) * s.tick_size::numeric""",
        SYMBOLS,
    )
    assert candles > 0 and off_tick == []

    for symbol in SYMBOLS:
        # aggTrades: exactly the simulator's, once each, decimal-equal
        produced = {t["a"]: t for t in truth.agg_trades[symbol]}
        assert len(produced) > 50
        rows = await db.fetch(
            "SELECT agg_trade_id, price, qty, is_buyer_maker, first_trade_id, last_trade_id"
            " FROM agg_trades WHERE symbol = $1",
            symbol,
        )
        ids = [r["agg_trade_id"] for r in rows]
        assert len(ids) == len(set(ids)), "duplicates"
        assert set(ids) == set(produced), symbol
        for r in rows:
            t = produced[r["agg_trade_id"]]
            assert Decimal(repr(r["price"])) == Decimal(str(t["p"]))
            assert Decimal(repr(r["qty"])) == Decimal(str(t["q"]))
            assert r["is_buyer_maker"] is t["m"]
            assert (r["first_trade_id"], r["last_trade_id"]) == (t["f"], t["l"])

        # every depth diff of the 100 ms stream
        diffs = truth.depth_events[symbol, 100]
        stored = {
            r["final_update_id"]
            for r in await db.fetch(
                "SELECT final_update_id FROM depth_updates WHERE symbol = $1", symbol
            )
        }
        assert len(diffs) > 20 and stored == {d["u"] for d in diffs}

        # book_top equals the simulator's own book at the same update id (top levels)
        tops = await db.fetch(
            "SELECT last_update_id, bid_prices, bid_qtys, ask_prices, ask_qtys FROM book_top"
            " WHERE symbol = $1",
            symbol,
        )
        assert len(tops) >= 4
        for top in tops:
            book = books_at[symbol](symbol, top["last_update_id"])
            n = len(top["bid_prices"])
            assert n == 20
            assert top["bid_prices"] == [float(p) for p, _ in book["bids"][:n]]
            assert top["bid_qtys"] == [float(q) for _, q in book["bids"][:n]]
            assert top["ask_prices"] == [float(p) for p, _ in book["asks"][:n]]
            assert top["ask_qtys"] == [float(q) for _, q in book["asks"][:n]]

        marks = await db.fetchval("SELECT count(*) FROM mark_prices WHERE symbol = $1", symbol)
        assert marks >= 4
        assert (
            await db.fetchval("SELECT count(*) FROM open_interest WHERE symbol = $1", symbol) >= 2
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM depth_snapshots WHERE symbol = $1 AND reason = 'start'",
                symbol,
            )
            >= 1
        )

    # all-market streams carried only our symbols
    others = await db.fetchval(
        "SELECT count(*) FROM mark_prices WHERE symbol <> ALL($1::text[])", SYMBOLS
    )
    assert others == 0
    kinds = {r["kind"] for r in await db.fetch("SELECT DISTINCT kind FROM recorder_events")}
    assert {"start", "connect", "stop"} <= kinds
