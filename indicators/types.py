"""Input records of the indicator library: trades, book states, liquidations.

They are plain NamedTuples on purpose: the per-trade path unpacks them as tuples
(`t, p, q, m = trade`), which is the cheapest attribute access CPython offers.
Times are integer milliseconds since the Unix epoch (UTC). Book prices are integer
ticks, so level identity never depends on float equality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Trade(NamedTuple):
    """One Binance aggTrade.

    `is_buyer_maker` is Binance's `m`: True means the buyer rested and the SELLER was
    the aggressor (a sell hitting the bid); False means a buy aggressor lifting the
    offer. The trade sign is therefore `-1 if is_buyer_maker else +1`.
    """

    time_ms: int
    price: float
    qty: float
    is_buyer_maker: bool


class Level(NamedTuple):
    """One price level of a book side: price in integer ticks and resting quantity."""

    ticks: int
    qty: float


class BookState(NamedTuple):
    """A book snapshot: both sides best-first, prices in ticks of `tick_size`.

    `resynced` is True on the first state after the book was rebuilt from a fresh
    snapshot (reconnect, sequence gap): stateful indicators must not treat the jump
    from the previous state as market activity.
    """

    time_ms: int
    bids: Sequence[Level]  # best (highest) first
    asks: Sequence[Level]  # best (lowest) first
    tick_size: float
    resynced: bool = False


class Liquidation(NamedTuple):
    """One forceOrder event: filled quantity `z` at average price `ap`.

    `is_sell` is Binance's `S == "SELL"`: a LONG position was liquidated, so the
    forced order sells and pushes the price down. `is_sell=False` is a short squeeze.
    """

    time_ms: int
    price: float
    qty: float
    is_sell: bool

    @property
    def notional(self) -> float:
        return self.price * self.qty


def to_ticks(price: float, tick_size: float) -> int:
    """Price as an integer number of ticks: `round(price / tick_size)`."""
    return round(price / tick_size)


def is_crossed(book: BookState) -> bool:
    """True when the best bid is at or above the best ask: a desynced book to drop."""
    return bool(book.bids) and bool(book.asks) and book.bids[0][0] >= book.asks[0][0]
