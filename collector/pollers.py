"""REST pollers: open interest for every symbol every ``OI_POLL_INTERVAL`` seconds."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from collector import metrics
from collector.events import EventLog
from collector.handler import BadInput
from collector.venues.binance import parse
from collector.venues.binance.rest import BinanceRest, RestError
from markets import USDM

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
    """``last``: the newest stored sample of symbols this process did not sample yet: those it
    started with, and (LEASES=on) those it takes over, added while it runs. Samples that could
    not be taken or stored (a ban, 429s, errors, slow answers, a recorder down) leave a silence
    between two stored samples: it is declared as a hole, since Binance's history
    (/futures/data/openInterestHist) has 5-minute samples at best (see ``_missed``)."""
    resumed = last if last is not None else {}
    latest: dict[str, dt.datetime] = {}
    seen_at: dict[str, float] = {}  # symbol -> loop time of its last sample in this run
    failed: dict[str, int] = {}  # symbol -> polls that failed since its last sample
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while True:
        round_ = list(symbols)  # ``symbols`` changes when the top:N universe is re-evaluated
        for symbol in resumed.keys() & set(round_):
            latest[symbol] = resumed.pop(symbol)
        for gone in set(latest) - set(round_):
            # out of the universe: not recorded on purpose from now on, but a silence it was
            # already in (failed polls, a restart) is a hole up to now
            before, since, failures = latest.pop(gone), seen_at.pop(gone, None), failed.pop(gone, 0)
            end = _exchange_now(before, since, loop.time(), latest)
            if _missed(end - before, since, loop.time(), interval):
                _declare(events, gone, before, end, failures)
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
            since = seen_at.get(symbol)
            if before is not None and _missed(row.time - before, since, now, interval):
                _declare(events, symbol, before, row.time, failed.get(symbol, 0))
            seen_at[symbol] = now
            failed.pop(symbol, None)


def _missed(exchange: dt.timedelta, seen_at: float | None, now: float, interval: float) -> bool:
    """Whether samples may be missing since the previous one. Within a run: a silence of two
    intervals on our clock (one slow answer stretches a single interval). Across a restart, on
    the samples' own times: more than one interval, since the process that died may have been
    answered and not stored the answer (an undeclared loss the soak found)."""
    if seen_at is None:
        return exchange.total_seconds() > interval
    return now - seen_at > 2 * interval


def _exchange_now(
    before: dt.datetime, seen_at: float | None, now: float, latest: dict[str, dt.datetime]
) -> dt.datetime:
    """The exchange's time now, on the samples' clock: the last sample's time plus the time
    since it came, or (not sampled in this run) the newest sample of any symbol."""
    if seen_at is not None:
        return before + dt.timedelta(seconds=now - seen_at)
    return max([before, *latest.values()])


def _declare(
    events: EventLog, symbol: str, start: dt.datetime, end: dt.datetime, failed: int
) -> None:
    metrics.GAPS.labels("open_interest").inc()
    log.warning("%s: no open interest sample between %s and %s", symbol, start, end)
    events.record(
        "gap",
        {"silent_seconds": (end - start).total_seconds(), "failed_polls": failed},
        symbol=symbol,
        market=USDM,
        stream="open_interest",
        start_time=start,
        end_time=end,
        status="unrecoverable",
    )
