"""Which symbols the worker runs on: a fixed list, or the recorder's universe as it declares it.

The recorder writes its symbols to `recorder_events`: a `start` row (`details.symbols`, the
SYMBOLS list or the top:N it chose) and, with top:N, a `universe` row each time it changes them
(`details.symbols`, in ranking order). The worker follows the newest of those rows (all of its
symbols, or with STRATEGY_SYMBOLS=top:N the first N), so it never polls the exchange itself.
Only rows of the worker's venue count (`recorder_events.venue`): each venue's recorder declares
its own symbols.

A symbol counts as a trading instrument when a recorder has declared it or its depth snapshots
(which only a listed symbol has) are recorded: the worker reads the database, never the exchange.
"""

from __future__ import annotations

import asyncpg
import orjson

from settings import SettingsError
from strategy.venue import BINANCE, Venue

_DECLARED = """
SELECT details FROM recorder_events
WHERE kind IN ('start', 'universe') AND details ? 'symbols' AND venue = $1
ORDER BY time DESC LIMIT 1"""
_EVER_DECLARED = """
SELECT DISTINCT jsonb_array_elements_text(details -> 'symbols') FROM recorder_events
WHERE kind IN ('start', 'universe') AND details ? 'symbols' AND venue = $1"""
_RECORDED = """
SELECT EXISTS (SELECT 1 FROM depth_snapshots WHERE symbol = $1 AND market = $2 AND venue = $3)"""


async def declared(
    conn: asyncpg.Connection, top_n: int | None, venue: Venue = BINANCE
) -> tuple[str, ...] | None:
    """The recorder's newest declared symbols of `venue` (the first `top_n` of them), or None
    before any recorder has declared its symbols there."""
    details = await conn.fetchval(_DECLARED, venue.name)
    if details is None:
        return None
    symbols = orjson.loads(details)["symbols"]
    return tuple(symbols[:top_n] if top_n else symbols)


async def check_instruments(
    conn: asyncpg.Connection, symbols: tuple[str, ...], venue: Venue = BINANCE
) -> bool:
    """Raise SettingsError naming a configured symbol no recorder knows; False while no
    recorder has declared anything yet (a fresh database: the caller waits)."""
    known = {r[0] for r in await conn.fetch(_EVER_DECLARED, venue.name)}
    unknown = [
        s for s in symbols
        if s not in known and not await conn.fetchval(_RECORDED, s, venue.market, venue.name)
    ]  # fmt: skip
    if not unknown:
        return True
    if not known:
        return False
    raise SettingsError(
        f"STRATEGY_SYMBOLS: {', '.join(unknown)} is not a recorded instrument (recorded: "
        f"{', '.join(sorted(known))}); add it to the recorder's SYMBOLS first"
    )
