"""Where Bybit's last run stopped: the newest stored trade and order-book delta per symbol.

The hole between that run and this one is declared as a reconnect's is: the REST recent-trade
window is spliced onto the newest stored trade (repaired when the window reaches it,
unrecoverable by time when not), and the order book from the newest stored delta to this run's
first snapshot is a depth gap that snapshot closes (resynced: the deltas in between are gone).
"""

from __future__ import annotations

import datetime as dt

from collector.venues.bybit.rows import MARKET, TradeRow
from db.connect import connect

_TRADE = """
SELECT time, trade_uuid, price, qty, is_buyer_maker, received_at FROM agg_trades
WHERE symbol = $1 AND market = $2 AND venue = 'bybit' AND trade_uuid IS NOT NULL
ORDER BY time DESC LIMIT 1"""
_DELTA = """
SELECT time, final_update_id FROM depth_updates
WHERE symbol = $1 AND market = $2 AND venue = 'bybit'
ORDER BY time DESC, received_at DESC LIMIT 1"""


async def resume_points(
    url: str, symbols: list[str]
) -> tuple[dict[str, TradeRow], dict[str, tuple[int, dt.datetime]]]:
    """Per symbol: the newest stored trade, and the newest stored delta's (u, time)."""
    trades: dict[str, TradeRow] = {}
    deltas: dict[str, tuple[int, dt.datetime]] = {}
    conn = await connect(url)
    try:
        for symbol in symbols:
            t = await conn.fetchrow(_TRADE, symbol, MARKET)
            if t is not None:
                trades[symbol] = TradeRow(
                    t["time"], symbol, MARKET, t["trade_uuid"], t["price"], t["qty"],
                    t["is_buyer_maker"], None, None, False, None, None, t["received_at"], None,
                )  # fmt: skip
            d = await conn.fetchrow(_DELTA, symbol, MARKET)
            if d is not None:
                deltas[symbol] = (d["final_update_id"], d["time"])
    finally:
        await conn.close()
    return trades, deltas
