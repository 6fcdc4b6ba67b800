"""Book builders shared by the indicator tests (prices given in price units)."""

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
