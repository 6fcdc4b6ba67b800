"""Books and bars shared by the indicator tests (prices given in price units)."""

from indicators.bars import Bar, Footprint
from indicators.types import BookState, Level, to_ticks

TICK = 0.1


def book(
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    time_ms: int = 0,
    resynced: bool = False,
    tick: float = TICK,
) -> BookState:
    return BookState(
        time_ms,
        tuple(Level(to_ticks(p, tick), q) for p, q in bids),
        tuple(Level(to_ticks(p, tick), q) for p, q in asks),
        tick,
        resynced,
    )


def l1(pb: float, qb: float, pa: float, qa: float, time_ms: int = 0, resynced: bool = False):
    return book([(pb, qb)], [(pa, qa)], time_ms, resynced)


# Reference §3.3
OBI_BOOK = book([(100.0, 5), (99.9, 3), (99.8, 2)], [(100.1, 1), (100.2, 4), (100.3, 10)])
EMPTY_BOOK = book([], [])
CROSSED_BOOK = book([(100.1, 5)], [(100.0, 4)])
LOCKED_BOOK = book([(100.0, 5)], [(100.0, 4)])
ONE_SIDED_BOOK = book([(100.0, 5)], [])


def make_bar(
    open_: float,
    close: float,
    buy: float,
    sell: float,
    high: float | None = None,
    low: float | None = None,
    start_ms: int = 0,
    tick: float = TICK,
) -> Bar:
    """A bar whose volume all traded at its close (a one-row footprint)."""
    volume = buy + sell
    rows = {to_ticks(close, tick): (buy, sell)} if volume else {}
    return Bar(
        start_ms=start_ms,
        end_ms=start_ms + 60_000,
        open=open_,
        high=max(open_, close) if high is None else high,
        low=min(open_, close) if low is None else low,
        close=close,
        volume=volume,
        buy_volume=buy,
        sell_volume=sell,
        trade_count=1 if volume else 0,
        notional=close * volume,
        footprint=Footprint(tick, 1, rows),
    )
