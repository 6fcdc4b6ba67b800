"""``VENUES=...,bybit``: Bybit v5 linear recorded in the same process as Binance.

As ``collector.spot.SpotSide`` runs spot beside futures, ``BybitSide`` runs Bybit beside Binance
on the recorder's clock, with its own writers (``collector.bybit_store``: same tables, venue
bybit), its own event log (recorder_events rows with venue bybit) and its own REST budget. Its
parts: the connections (``BybitConnection``: topics spread by Bybit's per-connection limit, the
20 s ping, the watchdog, backoff), the handler (``BybitHandler``: rows, books, holes), the
``book_top`` sampler, and after each reconnect the splice of REST recent-trade per symbol.

BYBIT_SYMBOLS=top:N ranks by 24 h turnover from REST tickers, again every UNIVERSE_REFRESH
(applied live: topics unsubscribed and subscribed, as Binance's universe does).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import aiohttp
import asyncpg

from collector import metrics
from collector.bybit_connection import BybitConnection
from collector.bybit_handler import PREFIX, STALE_AFTER, BybitHandler
from collector.bybit_resume import resume_points
from collector.events import EventLog
from collector.instruments import RETRY_AFTER_FAILURE
from collector.rows import book_top_row
from collector.subscriptions import connection_events
from collector.venues import BYBIT
from collector.venues.bybit import parse, streams
from collector.venues.bybit.rest import BybitRest, RestError
from collector.venues.bybit.streams import MAX_ARGS_CHARS, per_connection
from db.connect import DatabaseUnavailable, connect
from db.instruments import store_instruments
from settings import Settings

log = logging.getLogger(__name__)

RECENT_TRADES = 1000  # REST recent-trade's largest window
CONNECTION_LOST, RESTART = "connection lost", "recorder restart"  # why trades are spliced
SPLICE_AFTER = 1.0  # s after a reconnect: the new stream delivers before the window is cut
PING_INTERVAL = streams.PING_INTERVAL  # Bybit closes a connection it has not heard from


class StartError(Exception):
    """BYBIT_SYMBOLS cannot be recorded as given (the message says why)."""


class BybitSide:
    """Bybit's handler, connections and samplers; build with ``BybitSide.start``."""

    def __init__(
        self,
        settings: Settings,
        rest: BybitRest,
        symbols: list[str],
        put: Callable[[tuple], None],
        put_trade: Callable[[tuple], None],
        clock: Callable[[], dt.datetime],
        events: EventLog,
    ) -> None:
        self.settings = settings
        self.rest = rest
        self.symbols = symbols
        self.put = put
        self.clock = clock
        self.events = events  # recorder_events rows with venue bybit
        self.handler = BybitHandler(
            symbols, put, put_trade, self.events, clock, self._resubscribe, settings.bybit_depth
        )
        wanted = [t for s in symbols for t in BYBIT.streams(s, settings.bybit_depth)]
        self.connections = [
            self._connection(f"bybit-{i}", topics)
            for i, topics in enumerate(per_connection(wanted))
        ]
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    async def start(
        cls,
        settings: Settings,
        http: aiohttp.ClientSession,
        put: Callable[[tuple], None],
        put_trade: Callable[[tuple], None],
        clock: Callable[[], dt.datetime],
    ) -> BybitSide:
        events = EventLog(put, clock)
        rest = BYBIT.rest(settings.bybit_rest_url, http, BYBIT.budget(), on_limit=_limited(events))
        symbols = list(settings.bybit_symbols)
        trading = await describe(rest, settings.database_url, clock())
        if settings.bybit_top_n:
            symbols = await BYBIT.top_symbols(rest, settings.bybit_top_n)
            log.info("bybit top %d by 24h turnover: %s", settings.bybit_top_n, ",".join(symbols))
        else:
            check_symbols(trading, symbols, rest.base_url)
        side = cls(settings, rest, symbols, put, put_trade, clock, events)
        side.handler.resume(*await resume_points(settings.database_url, symbols))
        return side

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for c in self.connections:
                tg.create_task(c.run(), name=f"ws:{c.name}")
            tg.create_task(self._tops(), name="bybit-tops")
            tg.create_task(self._keep_described(), name="bybit-instruments")
            if self.settings.bybit_top_n:
                tg.create_task(self._universe(tg), name="bybit-universe")

    def declare(self) -> None:
        """The ``start`` row of Bybit's recorder (venue bybit): the symbols it records, which a
        strategy worker on Bybit follows (strategy/universe.py)."""
        self.events.record("start", {"symbols": self.symbols, "connections": len(self.connections)})

    def expected_streams(self) -> list[str]:
        """/health keys of the topics Bybit must keep delivering."""
        return [f"{PREFIX}{kind}:{s}" for s in self.symbols for kind in STALE_AFTER]

    def books_valid(self) -> dict[str, bool]:
        return {f"{PREFIX}{s}": b.synced for s, b in self.handler.books.items()}

    # ---- connections ---------------------------------------------------------------------------

    def _connection(self, name: str, topics: list[str]) -> BybitConnection:
        conn = BybitConnection(
            name,
            self.settings.bybit_ws_url,
            topics,
            self.handler.on_frame,
            lambda kind, details: None,
            silent_after=self.settings.silent_after,
            ping_interval=PING_INTERVAL,
        )
        recorded = connection_events(
            name,
            self.events,
            on_down=lambda: self.handler.streams_down(conn.topics),
            on_back=lambda: self._spawn(self._splice_all(conn.topics, CONNECTION_LOST)),
        )

        def on_event(kind: str, details: dict) -> None:
            recorded(kind, details)
            if kind == "connect" and details.get("connects") == 1:  # since the last run
                self._spawn(self._splice_all(conn.topics, RESTART))

        conn.on_event = on_event
        return conn

    # ---- top:N --------------------------------------------------------------------------------

    async def _universe(self, tg: asyncio.TaskGroup) -> None:
        """BYBIT_SYMBOLS=top:N ranked again every UNIVERSE_REFRESH and applied live."""
        n = self.settings.bybit_top_n or 0
        while True:
            await asyncio.sleep(self.settings.universe_refresh)
            try:
                top = await BYBIT.top_symbols(self.rest, n)
            except (RestError, parse.BybitApiError, ValueError, KeyError, TypeError) as exc:
                log.warning("bybit tickers refresh failed: %s", exc)
                continue
            added = [s for s in top if s not in self.symbols]
            removed = [s for s in self.symbols if s not in top]
            if added or removed:
                self.follow(tg, added, removed)
                # venue bybit: a strategy worker on Bybit follows it (strategy/universe.py)
                self.events.record("universe", {"added": added, "removed": removed, "symbols": top})
                log.info("bybit top %d: added %s, removed %s", n, added, removed)

    def follow(self, tg: asyncio.TaskGroup, added: list[str], removed: list[str]) -> None:
        """Unsubscribe the symbols gone, subscribe the new ones where a connection has room
        (Bybit's limit is on the topics' characters), on new connections beyond."""
        depth = self.settings.bybit_depth
        for symbol in removed:
            self.handler.remove(symbol)
            self.symbols.remove(symbol)
        for symbol in added:
            self.handler.add(symbol)
            self.symbols.append(symbol)
        gone = {t for s in removed for t in BYBIT.streams(s, depth)}
        new = [t for s in added for t in BYBIT.streams(s, depth)]
        for c in self.connections:
            room = MAX_ARGS_CHARS - sum(len(t) for t in c.topics if t not in gone)
            take = 0
            while take < len(new) and len(new[take]) <= room:
                room -= len(new[take])
                take += 1
            drop = [t for t in c.topics if t in gone]
            if drop or take:
                c.change(new[:take], drop)
            new = new[take:]
        for topics in per_connection(new) if new else []:
            conn = self._connection(f"bybit-{len(self.connections)}", topics)
            self.connections.append(conn)
            tg.create_task(conn.run(), name=f"ws:{conn.name}")

    def _resubscribe(self, topic: str) -> None:
        for c in self.connections:
            if topic in c.topics:
                self._spawn(c.resubscribe(topic))

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- trades after a reconnect --------------------------------------------------------------

    async def _splice_all(self, topics: list[str], reason: str) -> None:
        """The trades of ``topics`` since the cut; at the first connect, since the last run's
        newest stored trade (for the symbols that have one)."""
        await asyncio.sleep(SPLICE_AFTER)
        for topic in topics:
            kind, _, symbol = parse.topic_parts(topic)
            ledger = self.handler.ledgers.get(symbol)
            if kind != "publicTrade" or ledger is None:
                continue
            if ledger.anchor is not None or reason == CONNECTION_LOST:
                await self._splice(symbol, reason)

    async def _splice(self, symbol: str, reason: str) -> None:
        ledger = self.handler.ledgers.get(symbol)
        if ledger is None:
            return  # left the universe meanwhile
        anchor = ledger.anchor
        try:
            body = await self.rest.recent_trades(symbol, RECENT_TRADES)
            window = parse.rest_trades(parse.rest_result(body), self.clock())
        except (RestError, parse.BybitApiError, ValueError, KeyError, TypeError) as exc:
            ledger.anchor = None  # nothing proves the outage: declared as lost
            self.handler.declare_trades(symbol, anchor, None, False, 0, str(exc), reason)
            return
        self.handler.spliced(symbol, anchor, ledger.splice(window, RECENT_TRADES), reason)

    async def _keep_described(self) -> None:
        """The ``symbols`` rows again every UNIVERSE_REFRESH (a minute after a failure)."""
        ok = True
        while True:
            await asyncio.sleep(self.settings.universe_refresh if ok else RETRY_AFTER_FAILURE)
            ok = await describe(self.rest, self.settings.database_url, self.clock()) is not None

    # ---- book_top ------------------------------------------------------------------------------

    async def _tops(self) -> None:
        loop = asyncio.get_running_loop()
        interval, levels = self.settings.book_top_interval, self.settings.book_top_levels
        next_tick = loop.time()
        while True:
            next_tick += interval
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            now = self.clock()
            for symbol, book in self.handler.books.items():
                metrics.BOOK_VALID.labels(PREFIX + symbol).set(1 if book.synced else 0)
                if book.synced and book.update_id is not None:  # never from a broken book
                    when = self.handler.book_times.get(symbol)
                    top = book.top(levels)
                    self.put(book_top_row(now, symbol, BYBIT.market, book.update_id, when, top))


async def describe(rest: BybitRest, database_url: str, now: dt.datetime) -> set[str] | None:
    """Bybit's linear instruments into the ``symbols`` table (market linear: tick, lot step);
    the symbols trading, or None when REST or the database failed (logged)."""
    try:
        rows = [parse.instrument(e) for e in await rest.instruments()]
        conn = await connect(database_url)
        try:
            await store_instruments(conn, rows, now)
        finally:
            await conn.close()
    except (RestError, parse.BybitApiError, ValueError, KeyError, TypeError, OSError,
            DatabaseUnavailable, asyncpg.PostgresError) as exc:  # fmt: skip
        log.warning("bybit instruments-info not stored: %s", exc)
        return None
    return {r.symbol for r in rows if r.status == "Trading"}


def _limited(events: EventLog) -> Callable[[int, float, str], None]:
    """A 403 from Bybit's REST: counted (``flowline_rest_limited_total{status="bybit:403"}``)
    and recorded; the budget itself holds every request back meanwhile."""

    def on_limit(status: int, blocked_for: float, path: str) -> None:
        metrics.REST_LIMITED.labels(f"bybit:{status}").inc()
        events.record("rest_limited", {"status": status, "retry_after": blocked_for}, stream=path)

    return on_limit


def check_symbols(trading: set[str] | None, symbols: list[str], url: str) -> None:
    """An explicit symbol Bybit does not trade stops the start with one line; unreachable REST
    is not a reason to stop (the symbols are then not checked)."""
    if trading is None:
        log.warning("bybit instruments-info unavailable: BYBIT_SYMBOLS not checked")
        return
    unknown = [s for s in symbols if s not in trading]
    if unknown:
        raise StartError(f"BYBIT_SYMBOLS: {','.join(unknown)} not trading on {url}")
