"""One immutable row type per hypertable; field order is the COPY column order.

The collector produces these and the database writer copies them; neither side knows the
other's internals. ``TABLE`` and ``COLUMNS`` tell the writer where a row goes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple


class AggTradeRow(NamedTuple):
    time: dt.datetime  # T
    symbol: str
    market: str
    agg_trade_id: int
    price: float
    qty: float
    normal_qty: float | None
    first_trade_id: int
    last_trade_id: int
    is_buyer_maker: bool
    event_time: dt.datetime | None  # None when backfilled from REST
    received_at: dt.datetime
    extra: str | None  # JSON text of unknown keys


class DepthUpdateRow(NamedTuple):
    time: dt.datetime  # E
    symbol: str
    market: str
    transaction_time: dt.datetime | None
    first_update_id: int
    final_update_id: int
    prev_final_update_id: int | None
    bid_prices: list[float]
    bid_qtys: list[float]
    ask_prices: list[float]
    ask_qtys: list[float]
    received_at: dt.datetime
    extra: str | None


class DepthSnapshotRow(NamedTuple):
    time: dt.datetime  # fetch (receive) time
    symbol: str
    market: str
    last_update_id: int
    event_time: dt.datetime | None
    transaction_time: dt.datetime | None
    reason: str
    bid_prices: list[float]
    bid_qtys: list[float]
    ask_prices: list[float]
    ask_qtys: list[float]
    received_at: dt.datetime
    extra: str | None


class BookTopRow(NamedTuple):
    time: dt.datetime
    symbol: str
    market: str
    last_update_id: int
    event_time: dt.datetime | None
    best_bid_price: float | None
    best_bid_qty: float | None
    best_ask_price: float | None
    best_ask_qty: float | None
    bid_prices: list[float]
    bid_qtys: list[float]
    ask_prices: list[float]
    ask_qtys: list[float]


def book_top_row(
    now: dt.datetime,
    symbol: str,
    market: str,
    update_id: int,
    event_time: dt.datetime | None,
    levels: tuple[list[float], list[float], list[float], list[float]],
) -> BookTopRow:
    """A sample of a synced book; ``levels``: (bid prices, bid qtys, ask prices, ask qtys),
    best first."""
    bid_px, bid_q, ask_px, ask_q = levels
    return BookTopRow(
        now,
        symbol,
        market,
        update_id,
        event_time,
        bid_px[0] if bid_px else None,
        bid_q[0] if bid_q else None,
        ask_px[0] if ask_px else None,
        ask_q[0] if ask_q else None,
        bid_px,
        bid_q,
        ask_px,
        ask_q,
    )


class MarkPriceRow(NamedTuple):
    time: dt.datetime  # E
    symbol: str
    mark_price: float
    index_price: float | None
    estimated_settle_price: float | None
    funding_rate: float | None
    next_funding_time: dt.datetime | None
    mark_price_avg: float | None
    received_at: dt.datetime
    extra: str | None


class ForceOrderRow(NamedTuple):
    time: dt.datetime  # E
    symbol: str
    side: str
    order_type: str
    time_in_force: str
    orig_qty: float
    price: float
    avg_price: float
    status: str
    last_filled_qty: float
    filled_qty: float
    trade_time: dt.datetime
    received_at: dt.datetime
    extra: str | None


class OpenInterestRow(NamedTuple):
    time: dt.datetime
    symbol: str
    open_interest: float
    received_at: dt.datetime
    extra: str | None


class InstrumentRow(NamedTuple):
    """One instrument of exchangeInfo (the `symbols` table, db/instruments.py)."""

    market: str
    symbol: str
    status: str
    base_asset: str | None
    quote_asset: str | None
    contract_type: str | None
    tick_size: float
    step_size: float
    min_qty: float | None
    min_notional: float | None


class RecorderEventRow(NamedTuple):
    time: dt.datetime
    event_id: uuid.UUID
    kind: str
    symbol: str | None = None
    market: str | None = None
    stream: str | None = None
    first_id: int | None = None
    last_id: int | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    status: str | None = None
    ref: uuid.UUID | None = None
    details: str | None = None  # JSON text


TABLES: dict[type, str] = {
    AggTradeRow: "agg_trades",
    DepthUpdateRow: "depth_updates",
    DepthSnapshotRow: "depth_snapshots",
    BookTopRow: "book_top",
    MarkPriceRow: "mark_prices",
    ForceOrderRow: "force_orders",
    OpenInterestRow: "open_interest",
    RecorderEventRow: "recorder_events",
}
COLUMNS: dict[str, tuple[str, ...]] = {table: cls._fields for cls, table in TABLES.items()}
