"""A populated database for migration tests and bench/venue_migration.py: the schema as it stood
before a given migration, and every hypertable filled by ``generate_series`` on the server (fast
enough for millions of rows, and no client-side data)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import asyncpg

from db.migrate import SQL_DIR, migrate

DAY0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # rows spread over the days after it
SYMBOL = "(ARRAY['BTCUSDT','ETHUSDT','SOLUSDT'])[1 + g % 3]"
LEVELS = "ARRAY(SELECT 65000 - k * 0.1 + (g % 7) FROM generate_series(1, {n}) k)"
QTYS = "ARRAY(SELECT 0.001 * k FROM generate_series(1, {n}) k)"

# g = 1..$1 at times t = $2 + g * $3
OVER_TIME = (
    "FROM generate_series(1, $1::bigint) g,"
    " LATERAL (SELECT $2::timestamptz + g * $3::interval AS t) x"
)
# table -> INSERT ... SELECT of rows g at times t
FILL: dict[str, str] = {
    "agg_trades": (
        f"""INSERT INTO agg_trades (time, symbol, agg_trade_id, price, qty, normal_qty,
            first_trade_id, last_trade_id, is_buyer_maker, event_time, received_at)
        SELECT t, {SYMBOL}, g, 65000 + (g % 1000) * 0.1, 0.001 * (1 + g % 50), NULL,
            g * 2, g * 2 + 1, g % 2 = 0, t, t + interval '5 ms'
        {OVER_TIME}"""
    ),
    "depth_updates": (
        f"""INSERT INTO depth_updates (time, symbol, transaction_time, first_update_id,
            final_update_id, prev_final_update_id, bid_prices, bid_qtys, ask_prices, ask_qtys,
            received_at)
        SELECT t, {SYMBOL}, t, g * 3, g * 3 + 2, g * 3 - 1, {LEVELS.format(n=12)},
            {QTYS.format(n=12)}, {LEVELS.format(n=12)}, {QTYS.format(n=12)}, t
        {OVER_TIME}"""
    ),
    "depth_snapshots": (
        f"""INSERT INTO depth_snapshots (time, symbol, last_update_id, event_time,
            transaction_time, reason, bid_prices, bid_qtys, ask_prices, ask_qtys, received_at)
        SELECT t, {SYMBOL}, g, t, t, 'periodic', {LEVELS.format(n=100)}, {QTYS.format(n=100)},
            {LEVELS.format(n=100)}, {QTYS.format(n=100)}, t
        {OVER_TIME}"""
    ),
    "book_top": (
        f"""INSERT INTO book_top (time, symbol, last_update_id, event_time, best_bid_price,
            best_bid_qty, best_ask_price, best_ask_qty, bid_prices, bid_qtys, ask_prices,
            ask_qtys)
        SELECT t, {SYMBOL}, g, t, 65000, 1, 65000.1, 1, {LEVELS.format(n=10)},
            {QTYS.format(n=10)}, {LEVELS.format(n=10)}, {QTYS.format(n=10)}
        {OVER_TIME}"""
    ),
    "mark_prices": (
        f"""INSERT INTO mark_prices (time, symbol, mark_price, index_price, funding_rate,
            next_funding_time, received_at)
        SELECT t, {SYMBOL}, 65000 + g % 100, 65000, 0.0001, t + interval '8 hours', t
        {OVER_TIME}"""
    ),
    "force_orders": (
        f"""INSERT INTO force_orders (time, symbol, side, order_type, time_in_force, orig_qty,
            price, avg_price, status, last_filled_qty, filled_qty, trade_time, received_at)
        SELECT t, {SYMBOL}, CASE WHEN g % 2 = 0 THEN 'SELL' ELSE 'BUY' END, 'LIMIT', 'IOC',
            0.01 * g, 64000 + g % 100, 64000 + g % 100, 'FILLED', 0.01, 0.01 * g, t, t
        {OVER_TIME}"""
    ),
    "open_interest": (
        f"""INSERT INTO open_interest (time, symbol, open_interest, received_at)
        SELECT t, {SYMBOL}, 80000 + g % 1000, t
        {OVER_TIME}"""
    ),
    "recorder_events": (
        f"""INSERT INTO recorder_events (time, event_id, kind, symbol, market, stream)
        SELECT t, gen_random_uuid(), 'connect', {SYMBOL}, 'usdm', 'aggTrade'
        {OVER_TIME}"""
    ),
    "indicators": (
        f"""INSERT INTO indicators (time, symbol, bar_ms, volume, buy_volume, sell_volume, delta,
            trades, large_buys, large_sells, book_valid, absorption_side, panic_direction,
            liq_sell_notional, liq_buy_notional, cascade_side, cascade_exhausted,
            fp_buy_imbalances, fp_sell_imbalances, fp_buy_zones, fp_sell_zones, divergence)
        SELECT t, {SYMBOL}, 60000, 10, 6, 4, 2, 100, 1, 0, true, 0, 0, 0, 0, 0, false,
            0, 0, 0, 0, 0
        {OVER_TIME}"""
    ),
}


def sql_before(version: str, into: Path) -> Path:
    """A copy of ``sql/`` without ``version`` and the numbered files after it."""
    (into / "tsl").mkdir(parents=True, exist_ok=True)
    for f in sorted(SQL_DIR.glob("[0-9]*.sql")):
        if f.name < version:
            shutil.copy(f, into / f.name)
    for f in sorted((SQL_DIR / "tsl").glob("[0-9]*.sql")):
        shutil.copy(f, into / "tsl" / f.name)
    return into


async def migrate_before(conn: asyncpg.Connection, version: str, scratch: Path) -> None:
    """Bring an empty database to the schema it had just before ``version``."""
    await migrate(conn, sql_before(version, scratch))


async def fill(conn: asyncpg.Connection, table: str, rows: int, days: float = 3.0) -> None:
    """``rows`` rows into ``table``, three symbols, spread evenly over ``days`` from DAY0 (so
    over several chunks)."""
    await conn.execute(FILL[table], rows, DAY0, dt.timedelta(days=days) / rows)
