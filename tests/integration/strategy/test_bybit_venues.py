"""Both venues recorded into one database at once (VENUES=binance,bybit, one simulator): a
backtest on each venue reads that venue's rows only — every trade of it in the range, none of
the other's — and the two give different bars."""

from __future__ import annotations

import asyncpg

from strategy.backtest import run_backtest
from strategy.source import setup_reader
from tests.integration.strategy.test_bad_input import QUIET
from tests.integration.strategy.test_worker import fast_config

SYMBOL = "BTCUSDT"


async def test_each_venue_reads_only_its_own_rows(record_session, strategy_db: str):
    await record_session(QUIET, 20, symbols=[SYMBOL], speed=10, venues="binance,bybit")

    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    closes = {}
    try:
        for venue in ("binance", "bybit"):
            config = fast_config(symbols=(SYMBOL,), venue=venue, warmup_ms=0)
            result = await run_backtest(strategy_db, config, keep_snapshots=True)
            stored = await conn.fetchval(
                "SELECT count(*) FROM agg_trades WHERE venue = $1 AND symbol = $2"
                " AND time >= $3 AND time < $4",
                venue, SYMBOL, result.start_ms, result.end_ms,
            )  # fmt: skip
            assert result.agg_trades == stored > 0, venue
            assert result.snapshots and any(s.book_valid for s in result.snapshots), venue
            closes[venue] = [s.close for s in result.snapshots]
    finally:
        await conn.close()
    assert closes["binance"] != closes["bybit"]
