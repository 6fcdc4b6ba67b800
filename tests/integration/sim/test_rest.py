"""REST market data: shapes, limits and weights, aggTrades paging and window, 429 → 418."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from sim.server import Simulator
from tests.sim_fixtures import make_simulator
from tests.unit.sim import binance_examples as ex

WEIGHT = "X-MBX-USED-WEIGHT-1M"


async def get(
    http: aiohttp.ClientSession, sim: Simulator, path: str, **params: Any
) -> tuple[int, Any, Any]:
    query = {k: str(v) for k, v in params.items()}
    async with http.get(f"{sim.http_url}{path}", params=query) as response:
        return response.status, await response.json(), response.headers


async def test_payload_shapes_match_binance(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.advance(3_000)
    checks = [
        ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5}, ex.REST_DEPTH),
        ("/fapi/v1/aggTrades", {"symbol": "BTCUSDT"}, [ex.REST_AGG_TRADE]),
        ("/fapi/v1/openInterest", {"symbol": "BTCUSDT"}, ex.REST_OPEN_INTEREST),
        ("/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, ex.REST_PREMIUM_INDEX),
        ("/fapi/v1/premiumIndex", {}, [ex.REST_PREMIUM_INDEX]),
        ("/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, ex.REST_TICKER_24HR),
        ("/fapi/v1/ticker/24hr", {}, [ex.REST_TICKER_24HR]),
        ("/fapi/v1/time", {}, ex.REST_TIME),
        ("/fapi/v1/ping", {}, {}),
    ]
    for path, params, example in checks:
        status, body, headers = await get(http, sim, path, **params)
        assert status == 200, (path, body)
        assert int(headers[WEIGHT]) > 0
        assert ex.same_shape(body, example) == [], path
    status, info, _ = await get(http, sim, "/fapi/v1/exchangeInfo")
    assert set(info) >= ex.EXCHANGE_INFO_KEYS
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    assert all(set(s) >= ex.EXCHANGE_INFO_SYMBOL_KEYS for s in info["symbols"])
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,
    }
    _, server_time, _ = await get(http, sim, "/fapi/v1/time")
    assert server_time["serverTime"] == sim.now


@pytest.mark.parametrize(("limit", "weight"), [(5, 2), (50, 2), (100, 5), (500, 10), (1000, 20)])
async def test_depth_limits_and_weights(
    sim: Simulator, http: aiohttp.ClientSession, limit: int, weight: int
) -> None:
    status, body, headers = await get(http, sim, "/fapi/v1/depth", symbol="ETHUSDT", limit=limit)
    assert status == 200
    assert int(headers[WEIGHT]) == weight
    assert len(body["bids"]) == min(limit, len(sim.book("ETHUSDT")["bids"]))
    assert body["lastUpdateId"] == sim.book("ETHUSDT")["lastUpdateId"]


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/fapi/v1/depth", {}, -1102),
        ("/fapi/v1/depth", {"symbol": "NOPEUSDT"}, -1121),
        ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 7}, -1130),
        ("/fapi/v1/aggTrades", {"symbol": "BTCUSDT", "limit": 1001}, -1130),
        ("/fapi/v1/aggTrades", {"symbol": "BTCUSDT", "fromId": "x"}, -1100),
        ("/fapi/v1/aggTrades", {"symbol": "BTCUSDT", "startTime": 0, "endTime": 3_600_001}, -1127),
        ("/fapi/v1/openInterest", {}, -1102),
    ],
)
async def test_errors_are_code_and_msg(
    sim: Simulator, http: aiohttp.ClientSession, path: str, params: dict[str, Any], code: int
) -> None:
    status, body, headers = await get(http, sim, path, **params)
    assert status == 400
    assert set(body) == {"code", "msg"} and body["code"] == code
    assert WEIGHT in headers


async def test_agg_trades_paging_by_from_id_returns_every_trade_once(
    http: aiohttp.ClientSession,
) -> None:
    async with make_simulator(rate=3_000) as sim:
        await sim.advance(12_000)
        assert sim.truth is not None
        truth = sim.truth.agg_trades["BTCUSDT"]
        assert len(truth) > 2_500
        pages, rows, from_id = 0, [], truth[0]["a"]
        while True:
            _, page, _ = await get(
                http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", fromId=from_id, limit=1000
            )
            if not page:
                break
            rows += page
            pages += 1
            from_id = page[-1]["a"] + 1
    assert pages == -(-len(truth) // 1000)
    assert [{k: r[k] for k in ("a", "p", "q", "f", "l", "T", "m")} for r in rows] == truth


async def test_agg_trades_by_time_range(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.advance(10_000)
    assert sim.truth is not None
    start, end = sim.now - 6_000, sim.now - 3_000
    _, rows, _ = await get(
        http, sim, "/fapi/v1/aggTrades", symbol="ETHUSDT", startTime=start, endTime=end, limit=1000
    )
    expected = [t for t in sim.truth.agg_trades["ETHUSDT"] if start <= t["T"] <= end]
    assert [r["a"] for r in rows] == [t["a"] for t in expected][:1000]
    _, latest, _ = await get(http, sim, "/fapi/v1/aggTrades", symbol="ETHUSDT", limit=3)
    assert [r["a"] for r in latest] == [t["a"] for t in sim.truth.agg_trades["ETHUSDT"][-3:]]


async def test_agg_trades_older_than_the_window_are_gone(http: aiohttp.ClientSession) -> None:
    async with make_simulator(agg_trades_window_ms=2_000) as sim:
        await sim.advance(5_000)
        assert sim.truth is not None
        first = sim.truth.agg_trades["BTCUSDT"][0]["a"]
        _, rows, _ = await get(
            http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", fromId=first, limit=10
        )
        assert rows[0]["a"] > first  # the gap is unrecoverable over REST, as on Binance
        assert rows[0]["T"] >= sim.now - 2_000


async def test_weight_budget_then_429_with_retry_after_then_418_ban(
    http: aiohttp.ClientSession,
) -> None:
    async with make_simulator(weight_limit=100, ban_after=2, ban_seconds=30) as sim:
        statuses = []
        for _ in range(8):
            status, body, headers = await get(
                http, sim, "/fapi/v1/depth", symbol="BTCUSDT", limit=1000
            )
            statuses.append(status)
            if status in (418, 429):
                assert body["code"] == -1003
                assert int(headers["Retry-After"]) >= 1
        assert statuses[:5] == [200] * 5  # 5 × 20 = the budget of 100
        assert statuses[5:] == [429, 429, 418]
        status, body, headers = await get(http, sim, "/fapi/v1/ping")
        assert status == 418 and 25 <= int(headers["Retry-After"]) <= 30
        assert "banned until" in body["msg"]
