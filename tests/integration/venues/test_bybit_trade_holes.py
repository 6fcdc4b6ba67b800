"""Bybit trades across an outage, against the simulator on 127.0.0.1: a short one is filled from
the REST window and proven complete; a long one (beyond the last 1,000 trades) is declared, and
every trade not stored lies inside the declared span."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest

from collector.venues.bybit import parse
from collector.venues.bybit.rest import BybitRest, RequestBudget
from collector.venues.bybit.rows import TradeRow
from collector.venues.bybit.trades import Splice, TradeLedger
from sim.server import Simulator
from tests.bybit_frames import at
from tests.sim_fixtures import make_simulator

WINDOW = 1000


@pytest.fixture
async def bybit_sim() -> AsyncIterator[Simulator]:
    simulator = make_simulator(symbols=["BTCUSDT"], bybit_symbols=["BTCUSDT"])
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


class Recorder:
    """What the recorder does with Bybit trades: ledger first, then store."""

    def __init__(self, sim: Simulator, http: aiohttp.ClientSession) -> None:
        self.sim, self.http = sim, http
        self.ledger = TradeLedger()
        self.stored: list[TradeRow] = []
        self.rest = BybitRest(sim.http_url, http, RequestBudget())

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        async with self.http.ws_connect(self.sim.bybit_ws_url) as ws:
            await ws.send_str('{"op":"subscribe","args":["publicTrade.BTCUSDT"]}')
            assert parse.op_reply(parse.decode((await ws.receive(timeout=5)).data))
            yield
            while True:  # read what was sent before leaving
                try:
                    message = await ws.receive(timeout=0.3)
                except TimeoutError:
                    break
                rows = parse.trades(parse.decode(message.data), dt.datetime.now(dt.UTC))
                self.stored += self.ledger.fresh(rows)
        self.ledger.cut()  # the stream broke

    async def splice(self) -> Splice:
        body = await self.rest.recent_trades("BTCUSDT", WINDOW)
        window = parse.rest_trades(parse.rest_result(body), dt.datetime.now(dt.UTC))
        splice = self.ledger.splice(window, WINDOW)
        self.stored += splice.rows
        return splice


async def outage(sim: Simulator, recorder: Recorder, missed_ms: int) -> Splice:
    async with recorder.connected():
        await sim.advance(2000)
    await sim.advance(missed_ms)  # nobody listens
    async with recorder.connected():
        await sim.advance(300)
        splice = await recorder.splice()  # while the new connection delivers
        await sim.advance(300)
    return splice


async def test_a_short_outage_is_filled_from_the_rest_window_and_proven(bybit_sim, http):
    recorder = Recorder(bybit_sim, http)
    splice = await outage(bybit_sim, recorder, 1000)
    assert splice.proven and splice.gap is None and splice.rows
    truth = [t["i"] for t in bybit_sim.bybit_truth.trades["BTCUSDT"]]
    stored = [str(r.trade_id) for r in recorder.stored]
    assert len(stored) == len(set(stored))  # nothing twice
    assert set(stored) == set(truth)  # nothing lost


async def test_a_long_outage_is_declared_and_holds_every_trade_not_stored(bybit_sim, http):
    recorder = Recorder(bybit_sim, http)
    splice = await outage(bybit_sim, recorder, 60_000)
    assert not splice.proven and splice.gap is not None
    start, end = splice.gap
    stored = {str(r.trade_id) for r in recorder.stored}
    lost = [t for t in bybit_sim.bybit_truth.trades["BTCUSDT"] if t["i"] not in stored]
    assert len(lost) > 100  # the window really was too short
    assert all(start <= at(t["T"]) <= end for t in lost)  # every loss inside the declared span


async def test_a_second_break_before_the_splice_keeps_the_first_anchor(bybit_sim, http):
    recorder = Recorder(bybit_sim, http)
    async with recorder.connected():
        await bybit_sim.advance(1000)
    anchor = recorder.ledger.anchor
    async with recorder.connected():
        await bybit_sim.advance(200)
    assert anchor is not None and recorder.ledger.anchor == anchor
