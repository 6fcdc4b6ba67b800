"""sql/041 over rows of both venues in a real database: candles_1m and liquidations_1m per venue
(a Bybit minute's open/close by time, sequence and UUID; Binance's by aggregate id, as before),
and the views that add the venues up per base asset: flow_1m_cross, cvd_1m_cross,
liquidations_1m_cross."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from itertools import count

import asyncpg
import orjson
import pytest

from db.readers import newest_times

MINUTE = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
NEXT = MINUTE + dt.timedelta(minutes=1)


def at(base: dt.datetime, ms: int) -> dt.datetime:
    return base + dt.timedelta(milliseconds=ms)


# (venue, market, symbol, time, seq or agg id, price, qty, is_buyer_maker); the Bybit rows are
# listed out of their sequence order, and two of them share a millisecond.
_ids = count(1)
TRADES = [
    ("binance", "usdm", "BTCUSDT", at(MINUTE, 100), next(_ids), 100.0, 0.1, False),
    ("binance", "usdm", "BTCUSDT", at(MINUTE, 100), next(_ids), 100.5, 0.2, True),
    ("binance", "usdm", "BTCUSDT", at(MINUTE, 900), next(_ids), 101.0, 0.3, False),
    ("binance", "usdm", "BTCUSDT", at(NEXT, 10), next(_ids), 102.0, 0.4, True),
    ("binance", "spot", "BTCUSDT", at(MINUTE, 200), 1, 99.0, 5.0, False),  # spot: not summed
    ("binance", "usdm", "ETHUSDT", at(MINUTE, 300), 1, 10.0, 2.0, False),
    ("bybit", "linear", "BTCUSDT", at(MINUTE, 500), 72, 100.7, 0.7, True),
    ("bybit", "linear", "BTCUSDT", at(MINUTE, 500), 71, 100.6, 0.6, False),
    ("bybit", "linear", "BTCUSDT", at(MINUTE, 50), 70, 100.2, 0.5, True),
    ("bybit", "linear", "BTCUSDT", at(MINUTE, 59_000), 90, 100.9, 0.1, False),
    ("bybit", "linear", "BTCUSDT", at(NEXT, 20), 95, 102.5, 1.2, False),
    ("bybit", "linear", "BTCPERP", at(MINUTE, 700), 80, 100.8, 0.25, False),  # USDC perpetual
]
# (venue, symbol, time, side, qty, avg price)
LIQUIDATIONS = [
    ("binance", "BTCUSDT", at(MINUTE, 1000), "SELL", 0.5, 100.0),
    ("bybit", "BTCUSDT", at(MINUTE, 2000), "SELL", 0.25, 100.2),
    ("bybit", "BTCPERP", at(MINUTE, 2500), "SELL", 0.1, 100.3),
    ("bybit", "BTCUSDT", at(MINUTE, 3000), "BUY", 1.0, 101.0),
]


def clean(value: float) -> float:
    return round(value, 8)


@pytest.fixture
async def both_venues(db: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    await db.execute(
        "INSERT INTO symbols (market, symbol, status, base_asset, quote_asset, tick_size,"
        " step_size, updated_at) VALUES ('linear', 'BTCPERP', 'TRADING', 'BTC', 'USDC', 0.1,"
        " 0.001, now()) ON CONFLICT (market, symbol) DO UPDATE SET base_asset = 'BTC'"
    )
    for venue, market, symbol, time, key, price, qty, maker in TRADES:
        if venue == "binance":
            await db.execute(
                "INSERT INTO agg_trades (time, symbol, market, venue, agg_trade_id, price, qty,"
                " first_trade_id, last_trade_id, is_buyer_maker, received_at)"
                " VALUES ($1, $2, $3, 'binance', $4, $5, $6, $4, $4, $7, now())",
                time, symbol, market, key, price, qty, maker,
            )  # fmt: skip
        else:
            await db.execute(
                "INSERT INTO agg_trades (time, symbol, market, venue, trade_uuid, price, qty,"
                " is_buyer_maker, received_at, extra)"
                " VALUES ($1, $2, $3, 'bybit', $4, $5, $6, $7, now(), $8::jsonb)",
                time, symbol, market, uuid.uuid4(), price, qty, maker,
                orjson.dumps({"seq": key}).decode(),
            )  # fmt: skip
    for venue, symbol, time, side, qty, price in LIQUIDATIONS:
        await db.execute(
            "INSERT INTO force_orders (time, symbol, venue, side, order_type, time_in_force,"
            " orig_qty, price, avg_price, status, last_filled_qty, filled_qty, trade_time,"
            " received_at) VALUES ($1, $2, $3, $4, 'LIMIT', 'IOC', $5, $6, $6, 'FILLED', $5, $5,"
            " $1, now())",
            time, symbol, venue, side, qty, price,
        )  # fmt: skip
    try:
        yield db
    finally:
        await db.execute("DELETE FROM symbols WHERE market = 'linear' AND symbol = 'BTCPERP'")


def in_minute(trade: tuple, minute: dt.datetime) -> bool:
    return minute <= trade[3] < minute + dt.timedelta(minutes=1)


async def test_candles_open_and_close_per_venue(both_venues):
    rows = await both_venues.fetch(
        "SELECT venue, open, close, volume, trades FROM candles_1m"
        " WHERE bucket = $1 AND symbol = 'BTCUSDT' AND market <> 'spot'",
        MINUTE,
    )
    candles = {r["venue"]: r for r in rows}
    assert set(candles) == {"binance", "bybit"}
    for venue in candles:
        mine = [t for t in TRADES if t[0] == venue and t[2] == "BTCUSDT" and t[1] != "spot"
                and in_minute(t, MINUTE)]  # fmt: skip
        ordered = sorted(mine, key=lambda t: (t[3], t[4]))  # time, then id or sequence
        if venue == "binance":  # by aggregate id alone, as before sql/041
            ordered = sorted(mine, key=lambda t: t[4])
        got = candles[venue]
        assert (got["open"], got["close"]) == (ordered[0][5], ordered[-1][5]), venue
        assert got["volume"] == clean(sum(t[6] for t in mine))
        assert got["trades"] == len(mine)


async def test_flow_sums_the_venues_per_base_asset(both_venues):
    rows = await both_venues.fetch(
        "SELECT * FROM flow_1m_cross WHERE base_asset = 'BTC' ORDER BY bucket"
    )
    futures = [t for t in TRADES if t[1] != "spot" and t[2] in ("BTCUSDT", "BTCPERP")]
    assert [r["bucket"] for r in rows] == [MINUTE, NEXT]
    for row in rows:
        mine = [t for t in futures if in_minute(t, row["bucket"])]
        buys = sum(t[6] for t in mine if not t[7])
        sells = sum(t[6] for t in mine if t[7])
        assert row["venues"] == sorted({t[0] for t in mine})
        assert row["buy_qty"] == clean(buys) and row["sell_qty"] == clean(sells)
        assert row["delta"] == clean(buys - sells)
        assert row["quote_volume"] == clean(sum(t[5] * t[6] for t in mine))
        assert row["trades"] == len(mine)
        per_venue: dict[str, float] = defaultdict(float)
        for t in mine:
            per_venue[t[0]] += -t[6] if t[7] else t[6]
        assert orjson.loads(row["venue_delta"]) == {v: clean(d) for v, d in per_venue.items()}
    eth = await both_venues.fetchval("SELECT delta FROM flow_1m_cross WHERE base_asset = 'ETH'")
    assert eth == sum(t[6] for t in TRADES if t[2] == "ETHUSDT")


async def test_cvd_runs_over_the_day_across_venues(both_venues):
    rows = await both_venues.fetch(
        "SELECT bucket, delta, cvd, day FROM cvd_1m_cross WHERE base_asset = 'BTC'"
        " AND day = $1 ORDER BY bucket",
        MINUTE.replace(hour=0),
    )
    assert len(rows) == 2
    assert rows[0]["cvd"] == rows[0]["delta"]
    assert rows[1]["cvd"] == clean(rows[0]["delta"] + rows[1]["delta"])


async def test_liquidations_per_venue_and_across_venues(both_venues):
    per_venue = await both_venues.fetch(
        "SELECT venue, notional FROM liquidations_1m WHERE symbol = 'BTCUSDT' AND side = 'SELL'"
    )
    assert sorted(r["venue"] for r in per_venue) == ["binance", "bybit"]
    rows = await both_venues.fetch(
        "SELECT * FROM liquidations_1m_cross WHERE base_asset = 'BTC' ORDER BY side"
    )
    assert [r["side"] for r in rows] == ["BUY", "SELL"]
    for row in rows:
        mine = [x for x in LIQUIDATIONS if x[3] == row["side"]]
        assert row["venues"] == sorted({x[0] for x in mine})
        assert row["orders"] == len(mine)
        assert row["qty"] == clean(sum(x[4] for x in mine))
        assert row["notional"] == clean(sum(x[4] * x[5] for x in mine))
        by_venue: dict[str, float] = defaultdict(float)
        for x in mine:
            by_venue[x[0]] += x[4] * x[5]
        assert orjson.loads(row["venue_notional"]) == {v: clean(n) for v, n in by_venue.items()}


async def test_the_newest_mark_and_open_interest_times_are_per_venue(db):
    """A recorder restarting finds what it missed from its own venue's newest rows: Bybit's later
    rows of the same symbol must not hide a Binance gap (these tables have no market column)."""
    times = {"binance": at(MINUTE, 1000), "bybit": at(NEXT, 5000)}
    for venue, time in times.items():
        await db.execute(
            "INSERT INTO mark_prices (time, symbol, venue, mark_price, received_at)"
            " VALUES ($1, 'BTCUSDT', $2, 100.0, now())",
            time,
            venue,
        )
        await db.execute(
            "INSERT INTO open_interest (time, symbol, venue, open_interest, received_at)"
            " VALUES ($1, 'BTCUSDT', $2, 5.0, now())",
            time,
            venue,
        )
    for table in ("mark_prices", "open_interest"):
        assert await newest_times(db, table, ["BTCUSDT"]) == {"BTCUSDT": times["binance"]}
        bybit = await newest_times(db, table, ["BTCUSDT"], "bybit")
        assert bybit == {"BTCUSDT": times["bybit"]}
