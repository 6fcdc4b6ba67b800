"""BYBIT_SYMBOLS=top:N: Bybit's linear USDT perpetuals ranked by 24 h turnover (REST tickers)."""

from __future__ import annotations

import datetime as dt

from collector.venues.bybit import parse
from collector.venues.bybit.rest import BybitRest


async def top_symbols(rest: BybitRest, n: int) -> list[str]:
    """The ``n`` USDT symbols with the largest ``turnover24h`` (in USDT), largest first."""
    body = await rest.tickers()
    rows = parse.rest_tickers(body["time"], parse.rest_result(body), dt.datetime.now(dt.UTC))
    ranked = sorted(
        (r for r in rows if r.symbol.endswith("USDT") and r.turnover_24h),
        key=lambda r: r.turnover_24h or 0.0,
        reverse=True,
    )
    return [r.symbol for r in ranked[:n]]
