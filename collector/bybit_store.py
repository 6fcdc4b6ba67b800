"""Where Bybit's rows go: the same tables as Binance's, with ``venue = 'bybit'``.

Bybit's writers are their own ``TableWriter``s (their columns add ``venue``, and ``agg_trades``
takes ``trade_uuid`` instead of Binance's three ids), spooling under their own folders
(``SPOOL_DIR/bybit.<table>``) so a replay never mixes the two column sets. The rows handed to
them are the recorder's usual row types (``collector.rows``) with the venue (and for trades the
UUID) appended; this module is the one place that says how each Bybit payload maps onto them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from collector.rows import (
    COLUMNS,
    TABLES,
    DepthSnapshotRow,
    DepthUpdateRow,
    ForceOrderRow,
    MarkPriceRow,
    OpenInterestRow,
)
from collector.venues.bybit.rows import BookRow, LiquidationRow, TickerRow, TradeRow
from db.spool import Spool

VENUE = "bybit"
TRADE_COLUMNS = (
    "time",
    "symbol",
    "market",
    "venue",
    "trade_uuid",
    "price",
    "qty",
    "is_buyer_maker",
    "event_time",
    "received_at",
    "extra",
)


def columns(table: str) -> tuple[str, ...]:
    """The COPY columns of Bybit's writer for ``table``."""
    return TRADE_COLUMNS if table == "agg_trades" else (*COLUMNS[table], "venue")


class VenueSpool:
    """A ``Spool`` whose batches of ``table`` go under ``<prefix>.<table>``: Bybit's rows have
    other columns than Binance's, so their spooled batches must never be replayed by the other."""

    def __init__(self, spool: Spool, prefix: str) -> None:
        self.spool = spool
        self.prefix = prefix

    @property
    def bytes_used(self) -> int:
        return self.spool.bytes_used

    def write(self, table: str, rows: Sequence[tuple]) -> Path:
        return self.spool.write(f"{self.prefix}.{table}", rows)

    def pending(self, table: str) -> list[Path]:
        return self.spool.pending(f"{self.prefix}.{table}")

    def read(self, path: Path) -> list[tuple]:
        return self.spool.read(path)

    def remove(self, path: Path) -> None:
        self.spool.remove(path)


def venue_put(route: Callable[[str], Callable[[tuple], None]]) -> Callable[[tuple], None]:
    """``put`` for the recorder's row types: each goes to its table's Bybit writer, tagged."""

    def put(row: tuple) -> None:
        route(TABLES[type(row)])((*row, VENUE))

    return put


def trade(row: TradeRow) -> tuple:
    """An ``agg_trades`` row in ``TRADE_COLUMNS`` order: the UUID, no Binance ids."""
    return (
        row.time,
        row.symbol,
        row.market,
        VENUE,
        row.trade_id,
        row.price,
        row.qty,
        row.is_buyer_maker,
        row.event_time,
        row.received_at,
        _extra(
            row.extra,
            seq=row.seq,
            tick_direction=row.tick_direction,
            block_trade=row.block_trade,
            rpi=row.rpi,
        ),
    )


def delta(row: BookRow) -> DepthUpdateRow:
    return DepthUpdateRow(
        row.time,
        row.symbol,
        row.market,
        row.matching_time,
        row.update_id,
        row.update_id,
        row.update_id - 1,
        row.bid_prices,
        row.bid_qtys,
        row.ask_prices,
        row.ask_qtys,
        row.received_at,
        _extra(row.extra, seq=row.seq, depth=row.depth),
    )


def snapshot(row: BookRow, reason: str) -> DepthSnapshotRow:
    return DepthSnapshotRow(
        row.time,
        row.symbol,
        row.market,
        row.update_id,
        row.time,
        row.matching_time,
        reason,
        row.bid_prices,
        row.bid_qtys,
        row.ask_prices,
        row.ask_qtys,
        row.received_at,
        _extra(row.extra, seq=row.seq, depth=row.depth),
    )


def liquidation(row: LiquidationRow) -> ForceOrderRow:
    """Bybit sends size and bankruptcy price only: the order columns Binance's forceOrder has
    get the plain values of an IOC liquidation order that filled (see force_orders' comments)."""
    return ForceOrderRow(
        row.event_time,
        row.symbol,
        row.side,
        "LIMIT",
        "IOC",
        row.qty,
        row.price,
        row.price,
        "FILLED",
        row.qty,
        row.qty,
        row.time,
        row.received_at,
        row.extra,
    )


def mark(row: TickerRow) -> MarkPriceRow | None:
    if row.mark_price is None:
        return None
    return MarkPriceRow(
        row.time,
        row.symbol,
        row.mark_price,
        row.index_price,
        None,
        row.funding_rate,
        row.next_funding_time,
        None,
        row.received_at,
        None,
    )


def open_interest(row: TickerRow) -> OpenInterestRow | None:
    if row.open_interest is None:
        return None
    extra = None
    if row.open_interest_value is not None:
        extra = orjson.dumps({"open_interest_value": row.open_interest_value}).decode()
    return OpenInterestRow(row.time, row.symbol, row.open_interest, row.received_at, extra)


def _extra(unknown: str | None, **known: object) -> str:
    """Bybit's fields without a column, plus whatever unknown keys the payload carried."""
    fields = orjson.loads(unknown) if unknown else {}
    return orjson.dumps({**known, **fields}).decode()
