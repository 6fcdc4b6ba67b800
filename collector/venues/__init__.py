"""One package per venue, and this one registry of them.

A venue's package owns its wire format: URLs and stream names, parsing (the only reader of its raw
payloads), REST, the book's sync rule, trade-id hole detection and backfill, the top-N ranking.
The core (connections, subscriptions, gap ledger, writer, watermark) reaches a venue through its
row here. A new venue is a new package and one more row in ``VENUES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collector.venues.binance import book as binance_book
from collector.venues.binance import parse as binance_parse
from collector.venues.binance import rest as binance_rest
from collector.venues.binance import streams as binance_streams
from collector.venues.binance.backfill import Backfiller
from collector.venues.binance.sequence import TradeSequence
from collector.venues.binance.universe import top_symbols
from collector.venues.bybit import book as bybit_book
from collector.venues.bybit import parse as bybit_parse
from collector.venues.bybit import rest as bybit_rest
from collector.venues.bybit import streams as bybit_streams
from collector.venues.bybit.rows import MARKET as BYBIT_LINEAR
from collector.venues.bybit.trades import TradeLedger
from collector.venues.bybit.universe import top_symbols as bybit_top_symbols
from markets import USDM


@dataclass(frozen=True)
class Venue:
    """What the core needs from one venue; None where that part is not built yet."""

    name: str
    market: str  # the `market` value of its futures rows
    streams: Callable[..., list[Any]]  # symbols -> the streams (topics) to subscribe to
    ws_url: Callable[..., str]  # the WebSocket URL those streams are read from
    parsers: Mapping[str, Callable[..., Any]]  # event kind -> payload parser (raw dict -> rows)
    budget: Callable[[], Any]  # the REST request budget shared by one process
    rest: Callable[..., Any]  # (base_url, session, budget, on_limit=...) -> REST client
    book: Callable[..., Any]  # one symbol's book kept by the venue's sync rule
    trade_ids: Callable[[], Any]  # one symbol's trade-id ledger: duplicates and holes
    backfill: Callable[..., Any] | None  # fills trade holes from REST
    top_symbols: Callable[..., Any] | None  # (rest, n) -> the n symbols SYMBOLS=top:N records


BINANCE = Venue(
    name="binance",
    market=USDM,
    streams=binance_streams.futures_streams,
    ws_url=binance_streams.combined_url,
    parsers={
        "aggTrade": binance_parse.agg_trade,
        "depthUpdate": binance_parse.depth_update,
        "markPriceUpdate": binance_parse.mark_price,
        "forceOrder": binance_parse.force_order,
    },
    budget=binance_rest.WeightBudget,
    rest=binance_rest.BinanceRest,
    book=binance_book.BookSync,
    trade_ids=TradeSequence,
    backfill=Backfiller,
    top_symbols=top_symbols,
)

# Recorded by collector.bybit_side (VENUES=...,bybit). No backfill by ids: Bybit's trade ids are
# UUIDs; after a reconnect the REST recent-trade window is spliced on (TradeLedger) instead.
BYBIT = Venue(
    name="bybit",
    market=BYBIT_LINEAR,
    streams=bybit_streams.topics,
    ws_url=bybit_streams.ws_url,
    parsers={
        "publicTrade": bybit_parse.trades,
        "orderbook": bybit_parse.book,
        "allLiquidation": bybit_parse.liquidations,
        # "tickers" is state, not a plain parser: deltas omit unchanged fields (parse.Tickers)
    },
    budget=bybit_rest.RequestBudget,
    rest=bybit_rest.BybitRest,
    book=bybit_book.BybitBook,
    trade_ids=TradeLedger,
    backfill=None,
    top_symbols=bybit_top_symbols,
)

VENUES: dict[str, Venue] = {venue.name: venue for venue in (BINANCE, BYBIT)}
