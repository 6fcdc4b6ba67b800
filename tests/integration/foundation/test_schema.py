"""The schema against a real TimescaleDB: hypertables, keys, views, migrations, status."""

import datetime as dt
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest

from db.migrate import load_migrations, migrate
from db.retention import drop_expired_chunks
from db.status import database_status
from tests.db_fixtures import HYPERTABLES, ROOT

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


async def test_timescaledb_is_loaded_and_every_table_is_a_hypertable(db):
    # shared_preload_libraries is for superusers to read; the library's own settings exist only
    # once it is loaded, and the app role may read those
    assert await db.fetchval("SELECT current_setting('timescaledb.license', true)")
    assert await db.fetchval("SELECT extversion FROM pg_extension WHERE extname='timescaledb'")
    names = {
        r["hypertable_name"]
        for r in await db.fetch("SELECT hypertable_name FROM timescaledb_information.hypertables")
    }
    assert names == set(HYPERTABLES)


async def test_each_hypertable_has_one_unique_index_leading_with_symbol_or_time(db):
    # agg_trades has one natural key per kind of trade id: Binance's sequence, Bybit's UUIDs
    keys = {"agg_trades": 2}
    for table in HYPERTABLES:
        rows = await db.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%UNIQUE%'",
            table,
        )
        assert len(rows) == keys.get(table, 1), table
        for row in rows:
            assert '(symbol, "time" DESC' in row["indexdef"] or table == "recorder_events"


async def test_migrating_twice_is_a_no_op(fresh_database_url):
    conn = await asyncpg.connect(fresh_database_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
    finally:
        await conn.close()
    core = [m.version for m in load_migrations() if not m.needs_community_license]
    assert first.applied == core
    assert second.applied == [] and second.already == core
    assert first.license in ("apache", "timescale")
    if first.license == "apache":
        tsl = [m.version for m in load_migrations() if m.needs_community_license]
        assert second.skipped_tsl == tsl


async def _trade(db, symbol, ts, agg_id, price, qty, maker):
    await db.execute(
        "INSERT INTO agg_trades (time, symbol, agg_trade_id, price, qty, first_trade_id,"
        " last_trade_id, is_buyer_maker, received_at) VALUES ($1,$2,$3,$4,$5,$3,$3,$6,$1)"
        " ON CONFLICT DO NOTHING",
        ts,
        symbol,
        agg_id,
        price,
        qty,
        maker,
    )


async def test_natural_key_makes_writes_idempotent(db):
    await _trade(db, "BTCUSDT", T0, 1, 100.0, 1.0, False)
    await _trade(db, "BTCUSDT", T0, 1, 100.0, 1.0, False)
    assert await db.fetchval("SELECT count(*) FROM agg_trades") == 1
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO agg_trades (time, symbol, agg_trade_id, price, qty, first_trade_id,"
            " last_trade_id, is_buyer_maker, received_at) VALUES ($1,'BTCUSDT',1,1,1,1,1,false,$1)",
            T0,
        )


async def test_candles_1m_view(db):
    s = dt.timedelta(seconds=1)
    trades = [
        (T0, 1, 100.0, 2.0, False),
        (T0 + s, 2, 103.0, 1.0, True),
        (T0 + 2 * s, 3, 99.0, 0.5, True),
        (T0 + 3 * s, 4, 101.0, 1.5, False),
        (T0 + 61 * s, 5, 102.0, 1.0, False),
    ]
    for ts, a, p, q, m in trades:
        await _trade(db, "BTCUSDT", ts, a, p, q, m)
    rows = await db.fetch("SELECT * FROM candles_1m WHERE symbol='BTCUSDT' ORDER BY bucket")
    first = dict(rows[0])
    assert first["bucket"] == T0
    assert (first["open"], first["high"], first["low"], first["close"]) == (100, 103, 99, 101)
    assert (first["volume"], first["buy_volume"], first["sell_volume"]) == (5.0, 3.5, 1.5)
    assert first["delta"] == 2.0 and first["trades"] == 4
    assert rows[1]["trades"] == 1 and rows[1]["sell_volume"] == 0


async def test_candles_1m_orders_trades_of_one_millisecond_by_id(db):
    # five trades in one millisecond, ids 1..5 at prices 1..5, stored out of id order
    for a in (3, 1, 5, 2, 4):
        await _trade(db, "BTCUSDT", T0, a, float(a), 1.0, False)
    row = await db.fetchrow("SELECT open, close, trades FROM candles_1m WHERE symbol='BTCUSDT'")
    assert (row["open"], row["close"], row["trades"]) == (1, 5, 5)


async def test_candles_1m_sums_print_without_float_noise(db):
    # 0.1 + 0.2 is 0.30000000000000004 in double precision; psql shows what the trader traded
    await _trade(db, "BTCUSDT", T0, 1, 100.1, 0.1, False)
    await _trade(db, "BTCUSDT", T0, 2, 100.2, 0.2, True)
    row = await db.fetchrow(
        "SELECT volume::text, delta::text, quote_volume::text, vwap, buy_trades, sell_trades"
        " FROM candles_1m WHERE symbol='BTCUSDT'"
    )
    assert (row["volume"], row["delta"], row["quote_volume"]) == ("0.3", "-0.1", "30.05")
    assert row["vwap"] == pytest.approx(30.05 / 0.3) and (
        row["buy_trades"],
        row["sell_trades"],
    ) == (
        1,
        1,
    )


async def test_data_gaps_view_shows_open_and_repaired_holes(db):
    repaired, still_open = uuid.uuid4(), uuid.uuid4()
    insert = (
        "INSERT INTO recorder_events (time, event_id, kind, symbol, stream, first_id, last_id,"
        " status, ref) VALUES ($1, $2, $3, 'BTCUSDT', 'agg_trades', $4, $5, $6, $7)"
    )
    await db.execute(insert, T0, uuid.uuid4(), "gap", 10, 19, "open", repaired)
    await db.execute(
        insert, T0 + dt.timedelta(seconds=2), uuid.uuid4(), "backfill", 10, 19, "repaired", repaired
    )
    await db.execute(insert, T0, uuid.uuid4(), "gap", 40, 49, "open", still_open)
    rows = await db.fetch("SELECT first_id, status, resolved_at FROM data_gaps ORDER BY first_id")
    assert [(r["first_id"], r["status"]) for r in rows] == [(10, "repaired"), (40, "open")]
    assert rows[0]["resolved_at"] == T0 + dt.timedelta(seconds=2) and rows[1]["resolved_at"] is None


async def test_status_reports_newest_row_per_symbol(db):
    await _trade(db, "BTCUSDT", T0, 1, 1.0, 1.0, False)
    await _trade(db, "BTCUSDT", T0 + dt.timedelta(hours=1), 2, 1.0, 1.0, False)
    await _trade(db, "ETHUSDT", T0, 1, 1.0, 1.0, True)
    status = await database_status(db)
    trades = next(t for t in status.tables if t.name == "agg_trades")
    assert trades.newest == {"BTCUSDT": T0 + dt.timedelta(hours=1), "ETHUSDT": T0}
    assert trades.chunks >= 1 and trades.total_bytes > 0
    # a young table the planner has not analysed yet: counted, not estimated as 0
    assert (trades.rows, trades.rows_exact) == (3, True)
    signals = await db.fetchval("SELECT count(*) FROM signals")
    assert status.plain_tables["signals"] == signals and "positions" in status.plain_tables
    assert status.license in ("apache", "timescale") and status.migrations >= 4


async def test_drop_expired_chunks_is_the_apache_retention(db):
    old = T0 - dt.timedelta(days=10)
    await _trade(db, "BTCUSDT", old, 1, 1.0, 1.0, False)
    await _trade(db, "BTCUSDT", T0, 2, 1.0, 1.0, False)
    dropped = await drop_expired_chunks(db, {"agg_trades": 5 * 86400}, now=T0)
    assert dropped == {"agg_trades": 1}
    assert await db.fetchval("SELECT array_agg(agg_trade_id) FROM agg_trades") == [2]


def _cli(*args, env_extra):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env_extra
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_db_init_cli_is_idempotent_and_bad_url_is_one_clear_line(database_url):
    ok = _cli("db", "init", env_extra={"DATABASE_URL": database_url})
    assert ok.returncode == 0, ok.stderr
    assert "schema is up to date" in ok.stdout
    bad = _cli("db", "init", env_extra={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: cannot connect to DATABASE_URL")
    status = _cli("db", "status", env_extra={"DATABASE_URL": database_url})
    assert status.returncode == 0 and "agg_trades" in status.stdout and "signals" in status.stdout


async def test_every_table_view_and_column_is_described(db):
    """`\\d+` in psql explains every table, view and column (COMMENT ON, sql/017 and after)."""
    missing = await db.fetch(
        """
        SELECT c.relname, a.attname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'v', 'm', 'p')
          AND (obj_description(c.oid, 'pg_class') IS NULL
               OR col_description(c.oid, a.attnum) IS NULL)
        ORDER BY 1, 2
        """
    )
    assert [f"{r['relname']}.{r['attname']}" for r in missing] == []
