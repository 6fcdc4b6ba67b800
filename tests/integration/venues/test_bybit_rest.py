"""Bybit's REST client against the simulator on 127.0.0.1: paging, the envelope, pacing under the
per-IP limit without ever drawing a 403, and a 403 ban waited out before asking again."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from collector.venues.bybit import parse
from collector.venues.bybit.rest import BybitRest, RequestBudget
from sim.server import Simulator
from tests.sim_fixtures import make_simulator


@pytest.fixture
async def bybit_sim() -> AsyncIterator[Simulator]:
    simulator = make_simulator(bybit_symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], bybit_ip_limit=10)
    simulator.bybit_rest.limiter.window_s = 0.5  # the 600-per-5 s rule, scaled down
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def test_instruments_come_from_every_page_and_errors_are_raised(bybit_sim, http):
    rest = BybitRest(bybit_sim.http_url, http, RequestBudget(10, 0.5, ban_wait=0.1))
    entries = await rest.instruments(page_size=1)
    assert bybit_sim.bybit_rest.requests == 3  # one page each
    assert [parse.instrument(e).symbol for e in entries] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    with pytest.raises(parse.BybitApiError) as refused:
        await rest.recent_trades("NOPE")
    assert refused.value.code == 10001


async def test_pacing_stays_under_the_ip_limit(bybit_sim, http):
    await bybit_sim.advance(1000)
    rest = BybitRest(bybit_sim.http_url, http, RequestBudget(10, 0.5, headroom=0.8))
    for _ in range(25):
        body = await rest.orderbook("BTCUSDT", 5)
        assert len(parse.rest_book(parse.rest_result(body), dt.datetime.now(dt.UTC)).bid_prices)
    assert bybit_sim.bybit_rest.forbidden == 0 and bybit_sim.bybit_rest.requests == 25


async def test_a_403_stops_every_request_until_the_ban_is_over(bybit_sim, http):
    limits: list[tuple[int, float, str]] = []
    budget = RequestBudget(10, 0.5, ban_wait=0.4)
    rest = BybitRest(bybit_sim.http_url, http, budget, on_limit=lambda *a: limits.append(a))
    bybit_sim.bybit_rest.limiter.ban(0.3)
    body = await rest.tickers()
    assert limits == [(403, 0.4, "/v5/market/tickers")]
    assert bybit_sim.bybit_rest.forbidden == 1  # asked once, then waited the ban out
    rows = parse.rest_tickers(body["time"], parse.rest_result(body), dt.datetime.now(dt.UTC))
    assert {r.symbol for r in rows} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
