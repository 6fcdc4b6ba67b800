"""Open interest of a symbol that leaves the top:N universe while its polls fail: the silence up to
its demotion is declared (it used to be forgotten with the symbol: one undeclared slot in a soak).
The poller runs against the simulator's REST on 127.0.0.1; the universe is the list it is given,
changed in place as collector/universe.py changes it."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp

from collector.events import EventLog, utc_now
from collector.handler import BadInput
from collector.pollers import poll_open_interest
from collector.rows import OpenInterestRow, RecorderEventRow
from collector.venues.binance.rest import BinanceRest, WeightBudget
from tests.integration.recorder.conftest import wait_until
from tests.sim_fixtures import make_simulator

INTERVAL = 1.0


async def test_a_symbol_demoted_during_a_silence_has_it_declared(http: aiohttp.ClientSession):
    sim = make_simulator(symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], paused=False)
    rows: list[tuple] = []
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    async with sim:
        rest = BinanceRest(sim.http_url, http, WeightBudget(), max_attempts=1)
        events = EventLog(rows.append, utc_now)
        poller = asyncio.create_task(
            poll_open_interest(symbols, rest, rows.append, utc_now, INTERVAL, BadInput(), events)
        )
        try:
            await wait_until(lambda: len(_samples(rows, "SOLUSDT")) >= 2, 10, "SOL samples")
            symbols.remove("SOLUSDT")  # healthy when it leaves: nothing to declare
            await wait_until(lambda: len(_samples(rows, "BTCUSDT")) >= 2, 10, "BTC samples")
            sim.faults.rest_error(500, 10_000, path="/fapi/v1/openInterest")
            await asyncio.sleep(4 * INTERVAL)  # more than two intervals without a sample
            last = _samples(rows, "BTCUSDT")[-1].time
            symbols.remove("BTCUSDT")  # demoted while silent
            await wait_until(lambda: _gaps(rows, "BTCUSDT"), 10, "the silence declared")
        finally:
            poller.cancel()
    (gap,) = _gaps(rows, "BTCUSDT")
    assert gap.start_time == last
    assert gap.end_time - last >= dt.timedelta(seconds=2 * INTERVAL)
    assert gap.status == "unrecoverable" and gap.stream == "open_interest"
    assert _gaps(rows, "SOLUSDT") == []


def _samples(rows: list[tuple], symbol: str) -> list[OpenInterestRow]:
    return [r for r in rows if isinstance(r, OpenInterestRow) and r.symbol == symbol]


def _gaps(rows: list[tuple], symbol: str) -> list[RecorderEventRow]:
    events = [r for r in rows if isinstance(r, RecorderEventRow)]
    return [r for r in events if r.kind == "gap" and r.symbol == symbol]
