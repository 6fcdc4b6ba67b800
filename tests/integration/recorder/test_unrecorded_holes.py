"""A hole left open by a run whose symbol has since left the universe is repaired at the next
start all the same (found by the soak: a symbol leaving top:N the moment its hole showed, then a
kill -9 before the repair, left the hole open for good)."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.integration.recorder.invariants import eventually, start_market
from tests.sim_fixtures import make_simulator


def ms(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t / 1000, dt.UTC)


async def test_a_hole_of_a_symbol_not_recorded_now_is_repaired_at_start(db, start_recorder):
    sim = make_simulator(symbols=["BTCUSDT", "ETHUSDT"], seed=61, rate=300)
    async with sim:
        await sim.advance(20_000)  # ETHUSDT trades while this recorder will record BTCUSDT only
        trades = sim.truth.agg_trades["ETHUSDT"][5:15]
        first, last = trades[0]["a"], trades[-1]["a"]
        ref = uuid.uuid4()
        await db.execute(
            "INSERT INTO recorder_events (time, event_id, kind, symbol, market, stream, first_id,"
            " last_id, start_time, end_time, status, ref)"
            " VALUES (now(), $1, 'gap', 'ETHUSDT', 'usdm', 'agg_trades', $2, $3, $4, $5,"
            " 'open', $6)",
            uuid.uuid4(), first, last, ms(trades[0]["T"]), ms(trades[-1]["T"]), ref,
        )  # fmt: skip

        async def repaired() -> bool:
            status = await db.fetchval("SELECT status FROM data_gaps WHERE ref = $1", ref)
            return status == "repaired"

        async with start_recorder(sim, SYMBOLS="BTCUSDT") as running:
            assert running.recorder.symbols == ["BTCUSDT"]
            await start_market(sim, running)
            await eventually(repaired, 20, "the ETHUSDT hole repaired")
        rows = await db.fetch(
            "SELECT agg_trade_id, price::text, qty::text FROM agg_trades"
            " WHERE symbol = 'ETHUSDT' ORDER BY agg_trade_id"
        )
    assert [(r["agg_trade_id"], float(r["price"]), float(r["qty"])) for r in rows] == [
        (t["a"], float(t["p"]), float(t["q"])) for t in trades
    ], "the hole's trades, exactly, and no other ETHUSDT row"
