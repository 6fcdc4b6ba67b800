"""With MARKETS=futures,spot the recorder writes spot rows into the same tables; the strategy
reads futures only: the tick size, the data bounds and the worker's horizon ignore spot rows."""

from __future__ import annotations

import datetime as dt

import asyncpg

from collector.rows import AggTradeRow, DepthSnapshotRow, DepthUpdateRow
from strategy.source import data_bounds, infer_tick_size, setup_reader
from strategy.worker import horizon

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def snapshot(market: str, step: float, when: float) -> DepthSnapshotRow:
    bids = [65_000 - i * step for i in range(5)]
    asks = [65_000 + (i + 1) * step for i in range(5)]
    return DepthSnapshotRow(
        at(when), "BTCUSDT", market, 1, at(when), at(when), "start",
        bids, [1.0] * 5, asks, [1.0] * 5, at(when), None,
    )  # fmt: skip


def ms(seconds: float) -> int:
    return int(at(seconds).timestamp() * 1000)


def trade(market: str, when: float, agg_id: int) -> AggTradeRow:
    return AggTradeRow(
        at(when), "BTCUSDT", market, agg_id, 65_000.0, 0.1, None, agg_id, agg_id, True,
        at(when), at(when), None,
    )  # fmt: skip


def diff(market: str, when: float, u: int) -> DepthUpdateRow:
    return DepthUpdateRow(
        at(when), "BTCUSDT", market, at(when), u, u, u - 1, [65_000.0], [1.0], [], [],
        at(when), None,
    )  # fmt: skip


async def test_spot_rows_do_not_reach_the_strategy(strategy_db):
    conn = await asyncpg.connect(strategy_db)
    try:
        rows = {
            "depth_snapshots": [snapshot("usdm", 0.1, 10), snapshot("spot", 0.01, 20)],
            "agg_trades": [trade("spot", 1, 7), trade("usdm", 10, 1), trade("usdm", 30, 2),
                           trade("spot", 60, 8)],
            "depth_updates": [diff("spot", 2, 5), diff("usdm", 11, 100), diff("usdm", 31, 101),
                              diff("spot", 61, 6)],
        }  # fmt: skip
        for table, records in rows.items():
            await conn.copy_records_to_table(table, records=records, columns=records[0]._fields)
        await setup_reader(conn)
        tick = await infer_tick_size(conn, "BTCUSDT")
        bounds = await data_bounds(conn, ("BTCUSDT",))
        newest, _ = await horizon(conn, ("BTCUSDT",), 0, ms(3600))
    finally:
        await conn.close()

    assert tick is not None and abs(tick - 0.1) < 1e-9  # spot's 0.01 book is newer, not ours
    assert bounds == (ms(10), ms(30))
    assert newest == ms(30)  # min over trades (30) and diffs (31) of futures; spot's 60/61 unseen
