"""Bybit's rows: one immutable record per payload kind, fields typed, two clocks on each.

``TradeRow`` follows ``collector.rows.AggTradeRow`` field for field where Bybit has the same
thing (time, symbol, market, price, qty, is_buyer_maker, event_time, received_at, extra) and
holds Bybit's own fields where it has none of Binance's (a UUID trade id, the cross sequence,
the tick direction, the block-trade and RPI flags; no first/last trade ids). Which table and
columns each goes to is ``collector.bybit_store``'s to say.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

MARKET = "linear"  # Bybit's category for USDT perpetuals


class TradeRow(NamedTuple):
    time: dt.datetime  # T: trade time
    symbol: str
    market: str
    trade_id: uuid.UUID  # i (REST: execId)
    price: float
    qty: float
    is_buyer_maker: bool  # S == "Sell": the taker sold, so the buyer was the maker
    seq: int | None  # cross sequence (orders trades; not contiguous)
    tick_direction: str | None  # L: PlusTick, ZeroPlusTick, MinusTick, ZeroMinusTick
    block_trade: bool  # BT
    rpi: bool | None  # RPI: a Retail Price Improvement order traded
    event_time: dt.datetime | None  # ts of the message; None from REST
    received_at: dt.datetime
    extra: str | None  # JSON text of unknown keys


class BookRow(NamedTuple):
    """One ``orderbook.{depth}.{symbol}`` message: a snapshot (replace the book) or a delta."""

    time: dt.datetime  # ts: when Bybit's market-data service produced it
    symbol: str
    market: str
    depth: int  # from the topic: 50, 200, ...
    snapshot: bool  # type == "snapshot"
    update_id: int  # u: +1 per message; 1 after a service restart
    seq: int | None  # cross sequence
    matching_time: dt.datetime | None  # cts: the matching engine's time
    bid_prices: list[float]
    bid_qtys: list[float]  # 0 deletes a level (deltas)
    ask_prices: list[float]
    ask_qtys: list[float]
    received_at: dt.datetime
    extra: str | None


class LiquidationRow(NamedTuple):
    time: dt.datetime  # T
    symbol: str
    market: str
    side: str  # the liquidation ORDER's side, as Binance's forceOrder: SELL = a long closed
    qty: float  # v
    price: float  # p: the bankruptcy price
    event_time: dt.datetime  # ts of the message
    received_at: dt.datetime
    extra: str | None


class TickerRow(NamedTuple):
    """The whole ticker of a symbol after a message (deltas merged into the kept state)."""

    time: dt.datetime  # ts
    symbol: str
    market: str
    cross_seq: int | None  # cs
    last_price: float | None
    mark_price: float | None
    index_price: float | None
    funding_rate: float | None
    next_funding_time: dt.datetime | None
    open_interest: float | None  # in base units
    open_interest_value: float | None  # in USDT
    bid1_price: float | None
    bid1_size: float | None
    ask1_price: float | None
    ask1_size: float | None
    turnover_24h: float | None
    volume_24h: float | None
    received_at: dt.datetime
    extra: str | None  # JSON text of the state's fields not named above


class OpenInterestPoint(NamedTuple):
    """One entry of REST ``/v5/market/open-interest`` (historical, per interval)."""

    time: dt.datetime  # timestamp: the interval's start
    symbol: str
    open_interest: float
    received_at: dt.datetime
