"""REST pollers: open interest for every symbol every ``OI_POLL_INTERVAL`` seconds."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from collector import parse
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
) -> None:
    while True:
        round_ = list(symbols)  # ``symbols`` changes when the top:N universe is re-evaluated
        step = interval / max(1, len(round_))  # spread the requests over the interval
        for symbol in round_:
            if symbol not in symbols:
                continue
            try:
                data = await rest.open_interest(symbol)
                put(parse.open_interest(data, clock()))
            except RestError as exc:
                log.warning("%s: open interest poll failed: %s", symbol, exc)
            except (KeyError, ValueError, TypeError) as exc:
                bad.report("bad_openInterest", exc)
            await asyncio.sleep(step)
