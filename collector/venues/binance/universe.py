"""``SYMBOLS=top:N`` on Binance: the N trading USDT perpetuals with the highest 24 h quote volume
(``exchangeInfo`` and ``ticker/24hr``); a hostile symbol name is dropped and counted. And which
symbols trade on spot, for MARKETS=futures,spot."""

from __future__ import annotations

from collector.venues.binance import parse
from collector.venues.binance.rest import BinanceRest, SpotRest
from symbols import keep_symbols


async def top_symbols(rest: BinanceRest, n: int) -> list[str]:
    eligible = set(keep_symbols(parse.usdt_perpetuals(await rest.exchange_info()), "exchangeInfo"))
    return parse.by_quote_volume(await rest.tickers_24h(), eligible, n)


async def spot_listed(rest: SpotRest) -> set[str]:
    """The symbols trading on spot now (``/api/v3/exchangeInfo``)."""
    return parse.trading_symbols(await rest.exchange_info())
