"""``MARKETS=futures,spot``: spot aggTrade and diff depth for the symbols that also trade on spot.

The same machinery as futures (spot's wire format, limits and listing come from
``collector.venues.binance``), with ``market='spot'`` on every row: spot's own connections to
BINANCE_SPOT_WS_URL (``/stream?streams=``, no /public or /market split), its own books kept by
spot's chaining rule (``U == previous u + 1``) from ``/api/v3/depth`` snapshots, its own aggTrade
id sequences backfilled from ``/api/v3/aggTrades`` (no 48 h window there), and its own REST weight
budget (spot counts weight apart from futures: 6,000 per minute). Mark price, liquidations and
open interest do not exist on spot.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from collector.events import EventLog
from collector.market import MarketParts, market_parts
from collector.resume import resume_state
from collector.subscriptions import Subscriptions, connection_factory
from collector.universe import follow
from collector.venues.binance import streams
from collector.venues.binance.rest import SPOT_SNAPSHOT_LIMIT, RestError, SpotRest
from collector.venues.binance.streams import SPOT_CONTROL_INTERVAL
from collector.venues.binance.universe import spot_listed
from settings import Settings

log = logging.getLogger(__name__)


class SpotSide:
    """Spot's handler, books, backfiller and connections; build with ``SpotSide.start``."""

    def __init__(
        self,
        settings: Settings,
        rest: SpotRest,
        listed: set[str],
        symbols: list[str],
        parts: MarketParts,
        futures_symbols: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.rest = rest
        self.listed = listed
        # the recorder's futures symbols (the same list a top:N universe changes in place)
        self.futures_symbols = futures_symbols if futures_symbols is not None else list(symbols)
        self.symbols = symbols  # the futures symbols that trade on spot
        self.keeper = parts.keeper
        self.backfiller = parts.backfiller
        self.handler = parts.handler
        make = connection_factory(
            settings.binance_spot_ws_url,
            parts.handler,
            parts.handler.events,
            max_age=settings.connection_max_age,
            silent_after=settings.silent_after,
            control_interval=SPOT_CONTROL_INTERVAL,
            on_down=parts.handler.streams_down,
        )
        self.subscriptions = Subscriptions(self._streams(symbols), make)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        rest: SpotRest,
        futures_symbols: list[str],
        put: Callable[[tuple], None],
        events: EventLog,
        clock: Callable[[], dt.datetime],
        trades_committed: Callable[[float], Awaitable[None]] | None = None,
    ) -> SpotSide:
        listed = await spot_listed(rest)
        symbols = [s for s in futures_symbols if s in listed]
        missing = [s for s in futures_symbols if s not in listed]
        if missing:
            log.info("not on spot (futures only): %s", ",".join(missing))
        resume = await resume_state(settings.database_url, symbols, "spot")
        parts = market_parts(
            settings,
            rest,
            symbols,
            resume,
            put,
            events,
            clock,
            market="spot",
            snapshot_limit=SPOT_SNAPSHOT_LIMIT,
            trades_committed=trades_committed,
        )
        return cls(settings, rest, listed, symbols, parts, futures_symbols)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.subscriptions.run(), name="spot-ws")
            tg.create_task(self.keeper.run(), name="spot-depth")
            tg.create_task(self.backfiller.run(), name="spot-backfill")
            tg.create_task(self._refresh_listed(), name="spot-listed")

    async def _refresh_listed(self) -> None:
        """Spot's exchangeInfo is read again every UNIVERSE_REFRESH: a symbol that stops trading
        on spot leaves the spot recording, one that starts again (or is listed) joins it."""
        while True:
            await asyncio.sleep(self.settings.universe_refresh)
            try:
                listed = await spot_listed(self.rest)
            except (RestError, KeyError, TypeError) as exc:
                log.warning("spot exchangeInfo refresh failed: %s", exc)
                continue
            if listed == self.listed:
                continue
            self.listed = listed
            added = [s for s in self.futures_symbols if s in listed and s not in self.symbols]
            self.follow(added, [s for s in self.symbols if s not in listed])

    def follow(self, added: list[str], removed: list[str]) -> None:
        """The futures top:N universe changed: spot follows for the symbols listed on spot."""
        add = [s for s in added if s in self.listed and s not in self.symbols]
        gone = [s for s in removed if s in self.symbols]
        if add or gone:
            follow(
                self.symbols,
                self.handler,
                self.keeper,
                self.subscriptions,
                self._streams,
                add,
                gone,
            )
            log.info("spot universe: added %s, removed %s", add, gone)

    def expected_streams(self) -> list[str]:
        """/health keys of the streams spot must keep delivering."""
        kinds = ("aggTrade", "depthUpdate")
        return [f"spot:{kind}:{s}" for s in self.symbols for kind in kinds]

    def _streams(self, symbols: list[str]) -> list[streams.Stream]:
        return streams.spot_streams(symbols, self.settings.spot_depth_speed)
