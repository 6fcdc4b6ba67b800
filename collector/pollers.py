"""REST pollers: open interest for every symbol every ``OI_POLL_INTERVAL`` seconds."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from collector import metrics, parse
from collector.events import EventLog
from collector.handler import BadInput
from collector.rest import BinanceRest, RestError

log = logging.getLogger(__name__)


async def poll_open_interest(
    symbols: list[str],
    rest: BinanceRest,
    put: Callable[[tuple], None],
    clock: Callable[[], dt.datetime],
    interval: float,
    bad: BadInput,
    events: EventLog,
    last: dict[str, dt.datetime] | None = None,
) -> None:
    """``last``: the newest sample per symbol an earlier run stored. Samples that could not be
    taken (a ban, 429s, errors, slow answers, the recorder down) leave a silence longer than two
    intervals between two stored samples: it is declared as a hole, since Binance's history
    (/futures/data/openInterestHist) has 5-minute samples at best. The silence is timed on our
    clock while we run (an exchange clock that runs faster, as a simulator's may, is no hole),
    and on the samples' own times across a restart."""
    latest = dict(last or {})
    seen_at: dict[str, float] = {}  # symbol -> loop time of its last sample in this run
    failed: dict[str, int] = {}  # symbol -> polls that failed since its last sample
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while True:
        round_ = list(symbols)  # ``symbols`` changes when the top:N universe is re-evaluated
        for gone in set(latest) - set(round_):
            del latest[gone]  # out of the universe: not recorded on purpose, not a hole
            seen_at.pop(gone, None)
        if not round_:  # other recorders hold every symbol for now (LEASES=on)
            await asyncio.sleep(interval)
            next_at = loop.time()
            continue
        step = interval / len(round_)  # spread the requests over the interval
        for symbol in round_:
            # paced by the clock, not by a sleep after each answer: slow answers do not
            # stretch a round (and its samples' spacing) beyond the interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = max(next_at, loop.time()) + step
            if symbol not in symbols:
                continue
            try:
                row = parse.open_interest(await rest.open_interest(symbol), clock())
            except RestError as exc:
                log.warning("%s: open interest poll failed: %s", symbol, exc)
                failed[symbol] = failed.get(symbol, 0) + 1
                continue
            except (KeyError, ValueError, TypeError, OverflowError) as exc:
                bad.report("bad_openInterest", exc)
                failed[symbol] = failed.get(symbol, 0) + 1
                continue
            put(row)
            before, now = latest.get(symbol), loop.time()
            if before is None or row.time > before:
                latest[symbol] = row.time
            if (
                before is not None
                and _silence(row.time - before, seen_at.get(symbol), now) > 2 * interval
            ):
                _declare(events, symbol, before, row.time, failed.get(symbol, 0))
            seen_at[symbol] = now
            failed.pop(symbol, None)


def _silence(exchange: dt.timedelta, seen_at: float | None, now: float) -> float:
    """Seconds since the previous sample: on our clock within a run, else on the exchange's."""
    return exchange.total_seconds() if seen_at is None else now - seen_at


def _declare(
    events: EventLog, symbol: str, start: dt.datetime, end: dt.datetime, failed: int
) -> None:
    metrics.GAPS.labels("open_interest").inc()
    log.warning("%s: no open interest sample between %s and %s", symbol, start, end)
    events.record(
        "gap",
        {"silent_seconds": (end - start).total_seconds(), "failed_polls": failed},
        symbol=symbol,
        market="usdm",
        stream="open_interest",
        start_time=start,
        end_time=end,
        status="unrecoverable",
    )
