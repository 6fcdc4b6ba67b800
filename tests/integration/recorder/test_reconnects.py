"""Short, repeated drops (issue 15, case 8) and holes no REST endpoint can fill (mark prices)."""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import (
    assert_agg_trades_exact,
    assert_depth_explained,
    eventually,
    no_open_gaps,
    settle,
    start_market,
)
from tests.integration.recorder.tcp_proxy import TcpProxy
from tests.sim_fixtures import make_simulator

SYMBOL = "BTCUSDT"


async def test_a_link_that_drops_every_second_reconnects_each_time(db, start_recorder):
    """The backoff starts again once a session delivers a frame: it does not grow over drops
    that each follow a working session (it did, until a session had lasted 30 s)."""
    sim = make_simulator(symbols=[SYMBOL], seed=61, rate=300)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        conns = running.recorder.connections
        for _ in range(5):
            await asyncio.sleep(1.0)
            before = [c.connects for c in conns]
            assert sim.faults.drop_connections() == len(conns)
            await wait_until(
                lambda b=before: all(c.connects > n for c, n in zip(conns, b, strict=True)),
                1.5,  # a grown backoff would be 0.2 * 2**3 s and more by the fourth drop
                "every connection back before the next drop",
            )
        await settle(sim, running, db)
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
    await assert_depth_explained(db, sim.truth, [SYMBOL])


async def test_mark_prices_missed_while_silent_are_declared(db, start_recorder):
    sim = make_simulator(symbols=[SYMBOL], seed=63, rate=300)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        sim.faults.silence("!markPrice@arr@1s", 3.5)
        await asyncio.sleep(4.5)
        await settle(sim, running, db)
    sent = [m["E"] for m in sim.truth.mark_prices[SYMBOL]]
    stored = {
        int(r["time"].timestamp() * 1000)
        for r in await db.fetch("SELECT time FROM mark_prices WHERE symbol = $1", SYMBOL)
    }
    gaps = await db.fetch(
        "SELECT start_time, end_time, status FROM data_gaps WHERE stream = 'mark_prices'"
    )
    assert gaps and all(g["status"] == "unrecoverable" for g in gaps)
    missed = [ms for ms in sent if ms not in stored]
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    explained = [
        ms
        for ms in missed
        if any(
            g["start_time"] < epoch + dt.timedelta(milliseconds=ms) < g["end_time"] for g in gaps
        )
    ]
    assert len(missed) >= 3 and explained == missed


async def test_trades_missed_by_a_symbol_that_stays_quiet_after_a_reconnect_are_fetched(
    db, start_recorder
):
    """Case 11: the link is down while the market trades, then the market goes quiet: no next
    trade will show the hole, so the recorder asks REST for the newest id once it is back."""
    sim = make_simulator(symbols=[SYMBOL], seed=65, rate=300)
    async with sim:
        link = TcpProxy.for_url(sim.ws_url)
        await link.start()
        try:
            async with start_recorder(sim, BINANCE_WS_URL=link.url(sim.ws_url)) as running:
                await start_market(sim, running)
                await asyncio.sleep(1.0)
                await link.cut()
                await asyncio.sleep(2.0)  # trades happen, none is delivered
                sim.pause()  # and then none at all: an illiquid symbol
                back = [c.connects for c in running.recorder.connections]
                await link.restore()
                conns = running.recorder.connections
                await wait_until(
                    lambda: all(c.connects > n for c, n in zip(conns, back, strict=True)),
                    20,
                    "reconnected",
                )

                async def fetched() -> bool:
                    n = await db.fetchval("SELECT count(*) FROM agg_trades")
                    return n == len(sim.truth.agg_trades[SYMBOL]) and await no_open_gaps(db)

                await eventually(fetched, 20, "the missed trades fetched")
                await running.finish()
        finally:
            await link.close()
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])
