"""fetch_range over rows written straight into the tables: which trades, in what order, at
what times (trades come back as parallel columns from one aggregated row per symbol)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from collector.rows import COLUMNS
from strategy.source import MARK, fetch_range, setup_reader

LO = 1_790_000_000_000  # ms
HI = LO + 10_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def trade(at: dt.datetime, agg_id: int, price: float, maker: bool, market: str = "usdm") -> tuple:
    """An agg_trades row in COPY column order."""
    return (at, "BTCUSDT", market, agg_id, price, 0.5, 0.5, agg_id, agg_id, maker, at, at, None)


def at_ms(ms: int, micros: int = 0) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) + dt.timedelta(microseconds=micros)


async def test_fetch_range_reads_trades_as_columns_in_time_then_id_order(strategy_db):
    inside = [  # (time, id): ids of one millisecond written out of order
        trade(at_ms(LO + 5), 103, 65_000.3, True),
        trade(at_ms(LO + 5), 101, 65_000.1, False),
        trade(at_ms(LO + 5), 102, 65_000.2, True),
        trade(at_ms(LO), 100, 64_999.9, False),  # at the lower bound: included
        trade(at_ms(LO + 7, 700), 104, 65_000.4, False),  # sub-ms: floored, as the ms codec does
        trade(at_ms(HI - 1), 105, 65_000.5, True),
    ]
    outside = [
        trade(at_ms(LO - 1), 99, 64_999.8, True),
        trade(at_ms(HI), 106, 65_000.6, False),  # at the upper bound: excluded
        trade(at_ms(LO + 6), 500, 1.0, False, market="spot"),
    ]
    conn = await asyncpg.connect(strategy_db)
    try:
        await conn.copy_records_to_table(
            "agg_trades", records=inside + outside, columns=COLUMNS["agg_trades"]
        )
        mark = (at_ms(LO + 1000), "ETHUSDT", 3500.0, 3499.9, 3500.0, 0.0001,
                at_ms(LO + 3_600_000), None, at_ms(LO + 1000), None)  # fmt: skip
        await conn.copy_records_to_table("mark_prices", records=[mark],
                                         columns=COLUMNS["mark_prices"])  # fmt: skip
        await setup_reader(conn)
        rows = await fetch_range(conn, ("BTCUSDT", "ETHUSDT"), LO, HI)
        # the same trades read one row at a time through the reader's ms codec
        expected = await conn.fetch(
            "SELECT time, price, qty, is_buyer_maker FROM agg_trades WHERE symbol = 'BTCUSDT' "
            "AND market = 'usdm' AND time >= $1 AND time < $2 ORDER BY time, agg_trade_id",
            LO,
            HI,
        )
    finally:
        await conn.close()

    btc = rows["BTCUSDT"]
    ordered = sorted(inside, key=lambda r: (r[0], r[3]))
    assert btc.trade_count == len(inside) == len(expected)
    assert btc.trade_prices == [r[4] for r in ordered]
    assert btc.trade_makers == [r[9] for r in ordered]
    assert btc.trade_qtys == [r[5] for r in ordered]
    assert btc.trade_times == [(r[0] - EPOCH) // dt.timedelta(milliseconds=1) for r in ordered]
    assert btc.trade_times == [r[0] for r in expected]
    assert btc.trades_before(0, LO + 6) == 4  # the engine's cursor over the time column

    eth = rows["ETHUSDT"]
    assert (eth.trade_count, eth.trade_times, eth.trade_prices) == (0, [], [])
    assert eth.events == [(LO + 1000, MARK, (3500.0, 0.0001))]
