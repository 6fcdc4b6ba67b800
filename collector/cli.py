"""``python main.py record``: the recorder's composition root.

Builds the writers, the REST client, the books, the stream connections and the health server
from the settings, runs them under one TaskGroup, and on SIGINT/SIGTERM stops reading and
flushes every batch before exiting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import asyncpg
from aiohttp import web

from collector import bybit_store, metrics
from collector.bybit_handler import STALE_AFTER as BYBIT_STALE_AFTER
from collector.bybit_side import BybitSide, StartError
from collector.connection import StreamConnection
from collector.depth import DepthKeeper
from collector.drops import Drops
from collector.events import EventLog, utc_now
from collector.handler import FrameHandler
from collector.instruments import RETRY_AFTER_FAILURE, describe, keep_described
from collector.leases import Follower, Leases
from collector.market import market_parts, repair_unrecorded
from collector.pollers import poll_open_interest
from collector.processes import CONFIG_ERROR, run_processes, stop_when_orphaned
from collector.resume import resume_state
from collector.rows import COLUMNS, TABLES
from collector.spot import SpotSide
from collector.subscriptions import Subscriptions, connection_factory
from collector.universe import Universe
from collector.venues import BINANCE
from collector.venues.binance import parse, streams
from collector.venues.binance.backfill import Backfiller
from collector.venues.binance.rest import (
    SPOT_WEIGHT_LIMIT,
    BinanceRest,
    RestError,
    SpotRest,
    WeightBudget,
)
from db.archive_schedule import archive_on_schedule
from db.connect import DatabaseUnavailable, connect
from db.migrate import timescaledb_license
from db.retention import drop_expired_chunks
from db.spool import Spool
from db.writer import CommitWatermark, Dropped, TableWriter
from db.writer_tasks import WriterTasks
from markets import USDM
from runtime import health
from runtime.bootstrap import StartupError, run_with_settings
from settings import Settings

log = logging.getLogger("collector")

EVENT_TABLES = ("agg_trades", "depth_updates", "mark_prices", "force_orders")


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="main.py record",
        description="Record Binance USD-M futures (and with MARKETS=futures,spot, spot) market "
        "data into TimescaleDB: trades, book diffs and snapshots, book samples, mark prices and "
        "funding, liquidations, open interest. Runs until SIGINT/SIGTERM, then flushes. No "
        "options: everything is configured by the environment below.",
    ).parse_args(argv)
    return run_with_settings(_run_until_signal)


async def _run_until_signal(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if settings.recorder_processes > 1:
        if await run_processes(settings, stop) == CONFIG_ERROR:
            raise StartupError("a recorder process cannot start as configured (its error above)")
        return
    orphaned = asyncio.create_task(stop_when_orphaned(stop))
    try:
        await run_recorder(settings, stop)
    finally:
        orphaned.cancel()


@dataclass
class Recorder:
    """What a running recorder exposes to /health, the stats line and tests."""

    settings: Settings
    symbols: list[str]
    writers: dict[str, TableWriter]
    spool: Spool
    budget: WeightBudget
    drops: Drops
    watermark: CommitWatermark
    handler: FrameHandler | None = None
    keeper: DepthKeeper | None = None
    subscriptions: Subscriptions | None = None
    spot: SpotSide | None = None  # MARKETS=futures,spot
    bybit: BybitSide | None = None  # VENUES=...,bybit
    writer_tasks: WriterTasks | None = None
    started: float = field(default_factory=time.monotonic)
    metrics_port: int | None = None
    leases: Leases | None = None  # LEASES=on: the symbols held are recorder.symbols

    @property
    def connections(self) -> list[StreamConnection]:
        """Every open stream connection, futures' then spot's."""
        parts = [self.subscriptions, self.spot.subscriptions if self.spot else None]
        return [c for part in parts if part is not None for c in part.connections]

    def venues(self, ages: dict[str, float], books: dict[str, bool]) -> dict[str, dict]:
        """Per venue: open connections, books in sync, the oldest stream's last message age."""
        bybit = self.bybit.connections if self.bybit is not None else []
        now = time.monotonic()
        conns = {"binance": [now - c.last_frame < c.silent_after for c in self.connections]}
        conns["bybit"] = [c.connected for c in bybit]
        out = {}
        for venue in self.settings.venues:
            mine = (lambda k: k.startswith("bybit:")) if venue == "bybit" else _binance_key
            venue_books = [ok for k, ok in books.items() if mine(k)]
            venue_ages = [a for k, a in ages.items() if mine(k)]
            out[venue] = {
                "connections": sum(conns[venue]),
                "books_valid": sum(venue_books),
                "books": len(venue_books),
                "last_message_age": max(venue_ages, default=None),
            }
        return out

    def health(self) -> tuple[bool, dict]:
        limits = streams.STALE_AFTER
        expected = [f"{kind}:{s}" for s in self.symbols for kind in limits]
        last_seen = dict(self.handler.last_seen) if self.handler else {}
        if self.spot is not None:
            expected += self.spot.expected_streams()
            last_seen.update(self.spot.handler.last_seen)
        limits_of = {"": limits, "spot": limits}
        if self.bybit is not None:
            expected += self.bybit.expected_streams()
            last_seen.update(self.bybit.handler.last_seen)
            limits_of["bybit"] = BYBIT_STALE_AFTER
        ages = health.ages(last_seen, expected, self.started)
        # keys are "<kind>:<symbol>", spot's "spot:<kind>:<symbol>", Bybit's "bybit:<kind>:<symbol>"
        stale = sorted(k for k, age in ages.items() if age > _limit(limits_of, k))
        now = time.time()
        tables = {}
        db_failing_for = 0.0
        for name, w in self.writers.items():
            s = w.stats
            failing = now - s.failing_since if s.failing_since else 0.0
            busy = now - s.busy_since if s.busy_since else 0.0
            if busy > health.WRITE_HUNG_AFTER:  # no error, no answer: down all the same
                failing = max(failing, busy)
            db_failing_for = max(db_failing_for, failing)
            tables[name] = {
                "last_flush_age": round(now - s.last_flush, 3) if s.last_flush else None,
                "queued": w.queued,
                "rows_written": s.rows_written,
                "rows_spooled": s.rows_spooled,
                "rows_dropped": s.rows_dropped,
                "failing_for": round(failing, 3),
            }
        writers_down = sorted(n for n, w in self.writers.items() if w.down_since is not None)
        books = {s: b.valid for s, b in self.keeper.books.items()} if self.keeper else {}
        if self.spot is not None:
            books |= {f"spot:{s}": b.valid for s, b in self.spot.keeper.books.items()}
        if self.bybit is not None:
            books |= self.bybit.books_valid()
        db_ok = db_failing_for < health.DB_FAILING_THRESHOLD
        body = {
            "status": "ok" if db_ok and not stale and not writers_down else "degraded",
            "writers_down": writers_down,
            "streams": ages,
            "stale": stale,
            "tables": tables,
            "db": "up" if db_failing_for == 0 else ("failing" if not db_ok else "retrying"),
            "spool_bytes": self.spool.bytes_used,
            "books_valid": books,
            "venues": self.venues(ages, books),
        }
        return db_ok and not stale and not writers_down, body


async def run_recorder(
    settings: Settings,
    stop: asyncio.Event,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
    on_ready: Callable[[Recorder], None] | None = None,
) -> None:
    """Record until ``stop`` is set, then flush everything and return."""
    # Fail fast with one clear line if the database is unreachable at start.
    conn = await connect(settings.database_url)
    try:
        await timescaledb_license(conn)
        has_schema = await conn.fetchval("SELECT to_regclass('agg_trades') IS NOT NULL")
        if not has_schema:
            raise DatabaseUnavailable("the schema is missing: run `python main.py db init` first")
    finally:
        await conn.close()

    try:
        spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        probe = settings.spool_dir / ".writable"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"SPOOL_DIR {settings.spool_dir} is not a writable directory ({exc.strerror or exc})"
        ) from None
    writers: dict[str, TableWriter] = {}
    route: dict[type, TableWriter] = {}
    writes: list[Callable[[tuple], bool]] = []  # REDUNDANCY > 1: the leader's rows only

    def put(row: tuple) -> None:
        if writes and not writes[0](row):
            return
        route[type(row)].put(row)

    events = EventLog(put, clock)

    def rest_limit_reporter(prefix: str) -> Callable[[int, float, str], None]:
        def on_rest_limit(status: int, retry_after: float, path: str) -> None:
            metrics.REST_LIMITED.labels(f"{prefix}{status}").inc()
            details = {"status": status, "retry_after": retry_after}
            events.record("rest_limited", details, stream=path)

        return on_rest_limit

    watermark, drops = CommitWatermark(settings.gap_hold_max), Drops()
    for cls, table in TABLES.items():
        writers[table] = route[cls] = _writer(settings, table, spool, events, watermark, drops)
    bybit_writers: dict[str, TableWriter] = {}
    bybit_put = bybit_store.venue_put(lambda table: bybit_writers[table].put)
    if "bybit" in settings.venues:
        bybit_writers = _bybit_writers(settings, spool, EventLog(bybit_put, clock), watermark)
        writers |= {f"bybit.{t}": w for t, w in bybit_writers.items()}
    for w in writers.values():  # first, so the resume point read from the database is current
        await w.replay_spool()
    writer_tasks = WriterTasks(writers)
    writer_tasks.start()
    leases: Leases | None = None
    try:
        async with aiohttp.ClientSession() as http:
            budget = BINANCE.budget()
            on_limit = rest_limit_reporter("")
            if "binance" not in settings.venues:  # VENUES=bybit: Binance is not contacted
                recorder = Recorder(settings, [], writers, spool, budget, drops, watermark)
                recorder.writer_tasks = writer_tasks
                put_trade = bybit_writers["agg_trades"].put
                recorder.bybit = await _bybit(settings, http, bybit_put, put_trade, clock)
                await _record_bybit_only(recorder, events, stop, on_ready)
                return
            rest = BINANCE.rest(settings.binance_rest_url, http, budget, on_limit=on_limit)
            spot_rest = None
            if "spot" in settings.markets:  # spot's weight is counted apart from futures'
                spot_budget = WeightBudget(SPOT_WEIGHT_LIMIT)
                spot_rest = SpotRest(
                    settings.binance_spot_rest_url,
                    http,
                    spot_budget,
                    on_limit=rest_limit_reporter("spot:"),
                )
            symbols = list(settings.symbols)
            if not settings.top_n:
                await _check_symbols(rest, symbols)
            if settings.top_n:
                symbols = await BINANCE.top_symbols(rest, settings.top_n)
                log.info(
                    "top %d symbols by 24h quote volume: %s", settings.top_n, ",".join(symbols)
                )
            leases = _leases(settings, symbols, watermark, rest) if settings.leases else None
            if leases is not None:
                symbols = await leases.first()
                if settings.redundancy > 1:
                    writes.append(leases.writes)
            recorder = Recorder(
                settings, symbols, writers, spool, budget, drops, watermark, leases=leases
            )
            recorder.writer_tasks = writer_tasks
            if bybit_writers:
                put_trade = bybit_writers["agg_trades"].put
                recorder.bybit = await _bybit(settings, http, bybit_put, put_trade, clock)
            await _record(recorder, rest, spot_rest, put, events, clock, stop, on_ready)
    finally:
        before = {t: _counts(w) for t, w in writers.items()}
        # recorder_events last: the others' final flushes may still record events (a replay)
        last = [t for t in writers if t.endswith("recorder_events")]
        await writer_tasks.close([[t for t in writers if t not in last], last])
        _report_shutdown(writers, spool, before)
        if leases is not None:  # after the final flush: the next owner resumes from there
            await leases.close()


def _binance_key(key: str) -> bool:
    return not key.startswith("bybit:")


def _limit(limits_of: dict[str, dict[str, float]], key: str) -> float:
    """The staleness limit of a /health stream key ("[prefix:]<kind>:<symbol>")."""
    parts = key.split(":")
    return limits_of[parts[0] if len(parts) == 3 else ""][parts[-2]]


def _counts(w: TableWriter) -> tuple[int, int, int]:
    """Rows committed (new or already stored), spooled and dropped so far."""
    s = w.stats
    return s.rows_written + s.rows_duplicate, s.rows_spooled, s.rows_dropped


def _report_shutdown(
    writers: dict[str, TableWriter], spool: Spool, before: dict[str, tuple[int, int, int]]
) -> None:
    """One line: what the final flush committed, spooled and lost (lost rows were declared as
    gaps as they were dropped), and anything still in memory, which no flush reached."""
    moved = {
        t: [a - b for a, b in zip(_counts(w), before[t], strict=True)] for t, w in writers.items()
    }
    committed, spooled, lost = (sum(m[i] for m in moved.values()) for i in range(3))
    left = {t: w.queued for t, w in writers.items() if w.queued}
    dropped = {t: w.stats.rows_dropped for t, w in writers.items() if w.stats.rows_dropped}
    level = logging.ERROR if lost or left or dropped else logging.INFO
    if spooled and level == logging.INFO:
        level = logging.WARNING
    # the gap rows that declare drops are recorder_events rows: if those were dropped too, the
    # next start's scan for undeclared holes is what finds them (aggTrades and depth)
    declared = "recorder_events" not in dropped
    log.log(
        level,
        "recorder stopped: the final flush committed %d rows and spooled %d (%d bytes in"
        " SPOOL_DIR wait for the next start); %d rows lost, %d dropped this run (%s: %s);"
        " rows left in memory: %s",
        committed, spooled, spool.bytes_used, lost, sum(dropped.values()),
        "declared in data_gaps" if declared else "their gap rows lost too, found at next start",
        dropped or "none", left or "none",
    )  # fmt: skip


async def _record(
    recorder: Recorder,
    rest: BinanceRest,
    spot_rest: SpotRest | None,
    put: Callable[[tuple], None],
    events: EventLog,
    clock: Callable[[], dt.datetime],
    stop: asyncio.Event,
    on_ready: Callable[[Recorder], None] | None,
) -> None:
    s, symbols = recorder.settings, recorder.symbols
    described = [(USDM, rest)] + ([("spot", spot_rest)] if spot_rest else [])
    # before the streams: the strategy worker reads lot steps from it once a book is recorded
    described_ok = await describe(described, s.database_url, clock())
    resume = await resume_state(s.database_url, symbols)
    # only futures holds the watermark: the strategy worker it paces reads futures rows only
    trades_committed = recorder.writers["agg_trades"].committed
    parts = market_parts(
        s,
        rest,
        symbols,
        resume,
        put,
        events,
        clock,
        watermark=recorder.watermark,
        trades_committed=trades_committed,
    )
    if recorder.leases is None:  # with leases, each symbol's holes are its owner's to repair
        await repair_unrecorded(s.database_url, symbols, parts)
    keeper, backfiller, handler = parts.keeper, parts.backfiller, parts.handler
    recorder.handler, recorder.keeper = handler, keeper
    recorder.drops.attach(USDM, backfiller, keeper)
    subscriptions = _subscriptions(s, symbols, handler, events, recorder.watermark, backfiller)
    recorder.subscriptions = subscriptions
    spot = recorder.spot = (
        await SpotSide.start(s, spot_rest, symbols, put, events, clock, trades_committed)
        if spot_rest
        else None
    )
    runner = await _serve_health(recorder)
    started = {"symbols": symbols, "connections": len(recorder.connections)}
    if spot is not None:
        recorder.drops.attach("spot", spot.backfiller, spot.keeper)
        started["spot_symbols"] = spot.symbols
    events.record("start", started)
    if recorder.bybit is not None:
        recorder.bybit.declare()
    log.info(
        "recording %d symbols on %d connections; /health and /metrics on %s:%s",
        len(symbols),
        len(recorder.connections),
        s.metrics_host,
        recorder.metrics_port,
    )
    if on_ready is not None:
        on_ready(recorder)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(subscriptions.run(), name="ws")
            if recorder.leases is not None:
                follower = Follower(
                    s.database_url,
                    symbols,
                    handler,
                    keeper,
                    backfiller,
                    subscriptions,
                    s.depth_speed,
                    spot.follow if spot is not None else None,
                    # a symbol gained alone was unsampled since its owner went; with REDUNDANCY
                    # its other copy went on sampling, and its newest sample is not known here
                    resume.last_open_interest if s.redundancy == 1 else None,
                )
                recorder.leases.on_change, recorder.leases.on_promote = follower, follower.promote
                tg.create_task(recorder.leases.run(), name="leases")
            elif s.top_n:  # with leases, the lease keeper follows top:N
                universe = Universe(
                    s.top_n,
                    s.universe_refresh,
                    rest,
                    symbols,
                    subscriptions,
                    handler,
                    keeper,
                    events,
                    s.depth_speed,
                    on_change=spot.follow if spot is not None else None,
                )
                tg.create_task(universe.run(), name="universe")
            if spot is not None:
                tg.create_task(spot.run(), name="spot")
            if recorder.bybit is not None:
                tg.create_task(recorder.bybit.run(), name="bybit")
            tg.create_task(keeper.run(), name="depth")
            tg.create_task(backfiller.run(), name="backfill")
            tg.create_task(
                poll_open_interest(
                    symbols,
                    rest,
                    put,
                    clock,
                    s.oi_poll_interval,
                    handler.bad,
                    events,
                    resume.last_open_interest,
                ),
                name="open-interest",
            )
            tg.create_task(_stats_every_minute(recorder), name="stats")
            first = s.universe_refresh if described_ok else RETRY_AFTER_FAILURE
            refresh = keep_described(described, s.database_url, clock, s.universe_refresh, first)
            tg.create_task(refresh, name="instruments")
            _upkeep(tg, s, stop)
    except* _Stopped:
        events.record("stop", {"reason": "signal"})
    finally:
        await runner.cleanup()


async def _serve_health(recorder: Recorder) -> web.AppRunner:
    s = recorder.settings
    try:
        runner, recorder.metrics_port = await health.start(
            health.build_app(recorder.health), s.metrics_host, s.metrics_port
        )
    except OSError as exc:
        raise StartupError(
            f"METRICS_HOST:METRICS_PORT {s.metrics_host}:{s.metrics_port}: cannot listen there"
            f" ({exc.strerror or exc}); choose a free port or a local address"
        ) from None
    return runner


async def _record_bybit_only(
    recorder: Recorder,
    events: EventLog,
    stop: asyncio.Event,
    on_ready: Callable[[Recorder], None] | None,
) -> None:
    """VENUES=bybit: Bybit's side, /health, the stats, retention and archive; no Binance part."""
    s, bybit = recorder.settings, recorder.bybit
    assert bybit is not None
    runner = await _serve_health(recorder)
    bybit.declare()
    log.info(
        "recording %d Bybit symbols on %d connections; /health and /metrics on %s:%s",
        len(bybit.symbols), len(bybit.connections), s.metrics_host, recorder.metrics_port,
    )  # fmt: skip
    if on_ready is not None:
        on_ready(recorder)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(bybit.run(), name="bybit")
            tg.create_task(_stats_every_minute(recorder), name="stats")
            _upkeep(tg, s, stop)
    except* _Stopped:
        events.record("stop", {"reason": "signal"})
    finally:
        await runner.cleanup()


def _upkeep(tg: asyncio.TaskGroup, s: Settings, stop: asyncio.Event) -> None:
    """Retention and the archive when configured, and the task that ends the group on stop."""
    if s.retention:
        tg.create_task(_retention(s), name="retention")
    if s.archive_after:
        archive = archive_on_schedule(s.database_url, s.archive_dir, s.archive_after)
        tg.create_task(archive, name="archive")
    tg.create_task(_raise_when_set(stop), name="stop")


async def _check_symbols(rest: BinanceRest, symbols: list[str]) -> None:
    """An explicit symbol the exchange does not trade stops the start with one line (it would
    otherwise be subscribed and silent forever). Unreachable REST is not a reason to stop."""
    try:
        trading = parse.trading_symbols(await rest.exchange_info())
    except (RestError, KeyError, TypeError) as exc:
        log.warning("exchangeInfo unavailable (%s): SYMBOLS not checked", exc)
        return
    unknown = [s for s in symbols if s not in trading]
    if unknown:
        raise StartupError(
            f"SYMBOLS: {','.join(unknown)} not trading on {rest.base_url} (exchangeInfo)"
        )


class _Stopped(Exception):
    pass


async def _raise_when_set(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stopped


def _leases(
    s: Settings, symbols: list[str], watermark: CommitWatermark, rest: BinanceRest
) -> Leases:
    async def top() -> list[str]:
        return await BINANCE.top_symbols(rest, s.top_n or 0)

    universe_of = top if s.top_n else None
    return Leases(
        s.database_url,
        s.lease_timeout,
        symbols,
        watermark,
        universe_of=universe_of,
        universe_refresh=s.universe_refresh,
        expect=s.lease_members,
        redundancy=s.redundancy,
    )


def _subscriptions(
    s: Settings,
    symbols: list[str],
    handler: FrameHandler,
    events: EventLog,
    watermark: CommitWatermark,
    backfiller: Backfiller,
) -> Subscriptions:
    def on_back(names: list[str]) -> None:
        """Symbols of the reconnected connection still quiet a moment later are checked."""
        since = time.monotonic()
        traded = [n.split("@")[0].upper() for n in names if n.endswith("@aggTrade")]
        seen = handler.last_seen
        backfiller.check_quiet(traded, lambda sym: seen.get(f"aggTrade:{sym}", 0.0) < since)

    make = connection_factory(
        s.binance_ws_url,
        handler,
        events,
        max_age=s.connection_max_age,
        silent_after=s.silent_after,
        watermark=watermark,
        on_down=handler.streams_down,
        on_back=on_back,
    )
    return Subscriptions(streams.futures_streams(symbols, s.depth_speed), make)


async def _bybit(
    settings: Settings,
    http: aiohttp.ClientSession,
    put: Callable[[tuple], None],
    put_trade: Callable[[tuple], None],
    clock: Callable[[], dt.datetime],
) -> BybitSide:
    try:
        return await BybitSide.start(settings, http, put, put_trade, clock)
    except StartError as exc:
        raise StartupError(str(exc)) from None


def _bybit_writers(
    settings: Settings, spool: Spool, events: EventLog, watermark: CommitWatermark
) -> dict[str, TableWriter]:
    """Bybit's writers: the same tables, their columns with venue (and trade_uuid), their own
    spool folders. Inside the one commit watermark, which paces a strategy worker on either
    venue: a Bybit row received before it is committed (an idle writer does not hold it)."""
    vspool = bybit_store.VenueSpool(spool, bybit_store.VENUE)
    return {
        table: _writer(
            settings,
            table,
            vspool,
            events,
            watermark,
            None,
            bybit_store.columns(table),  # type: ignore[arg-type]
        )
        for table in TABLES.values()
    }


def _writer(
    settings: Settings,
    table: str,
    spool: Spool,
    events: EventLog,
    watermark: CommitWatermark | None,
    drops: Drops | None,
    columns: tuple[str, ...] | None = None,
) -> TableWriter:
    async def connect_writer() -> asyncpg.Connection:
        return await connect(
            settings.database_url,
            server_settings={"synchronous_commit": "off", "application_name": "flowline-recorder"},
        )

    def on_flush(name: str, batch: list, seconds: float) -> None:
        metrics.FLUSH_SECONDS.labels(name).observe(seconds)
        metrics.ROWS.labels(name).inc(len(batch))
        metrics.DB_UP.set(1)
        if name in EVENT_TABLES:
            now = dt.datetime.now(dt.UTC)
            lag = metrics.COMMIT_LAG.labels(name)
            # a sample keeps this cheap: batches are small and many at ordinary rates
            for row in batch[:: max(1, len(batch) // 8)]:
                lag.observe((now - row[0]).total_seconds())

    def on_drop(name: str, dropped: Dropped) -> None:
        """Called once writes work again, so the gap row itself is not lost to the outage."""
        metrics.DROPPED.labels(name).inc(dropped.rows)
        if drops is not None and drops.handled(name):
            return  # fetched again or declared by ids: each hole and its repair are recorded
        events.record(
            "gap",
            {"reason": dropped.reason, "rows": dropped.rows},
            stream=name,
            start_time=dropped.first_time,
            end_time=dropped.last_time,
            status="unrecoverable",
        )

    def on_event(name: str, kind: str, details: dict) -> None:
        if kind in ("writer_error", "spool_corrupt"):
            metrics.WRITER_ERRORS.labels(name).inc()
        if kind == "spool_corrupt":  # its rows are lost: a gap, with no span known
            kind, details = "gap", {**details, "reason": "spool file corrupt"}
            events.record(kind, details, stream=name, status="unrecoverable")
            return
        events.record(kind, details, stream=name)

    return TableWriter(
        table,
        columns or COLUMNS[table],
        connect_writer,
        max_rows=settings.batch_max_rows,
        max_ms=settings.batch_max_ms,
        queue_max_rows=settings.queue_max_rows,
        spool=spool,
        on_flush=on_flush,
        on_drop=on_drop,
        on_event=on_event,
        # the rows that explain every hole must outlive a full spool (they are few and small)
        hold_when_full=table == "recorder_events",
        watermark=watermark,
        on_lost=drops.collector(table) if drops is not None else None,
        # with REDUNDANCY=2 most rows arrive twice: every batch goes through the stage
        direct=settings.redundancy == 1,
    )


async def _stats_every_minute(recorder: Recorder) -> None:
    tick = 0
    spooled = {name: 0 for name in recorder.writers}
    while True:
        await asyncio.sleep(1)
        tick += 1
        _, body = recorder.health()
        for key, age in body["streams"].items():
            metrics.LAST_MESSAGE_AGE.labels(key).set(age)
        for venue, state in body["venues"].items():
            metrics.VENUE_CONNECTIONS.labels(venue).set(state["connections"])
            metrics.VENUE_BOOKS_VALID.labels(venue).set(state["books_valid"])
            if state["last_message_age"] is not None:
                metrics.VENUE_LAST_MESSAGE_AGE.labels(venue).set(state["last_message_age"])
        for name, w in recorder.writers.items():
            metrics.QUEUE_ROWS.labels(name).set(w.queued)
            metrics.SPOOLED.labels(name).inc(w.stats.rows_spooled - spooled[name])
            spooled[name] = w.stats.rows_spooled
        metrics.SPOOL_BYTES.set(recorder.spool.bytes_used)
        metrics.DB_UP.set(1 if body["db"] == "up" else 0)  # on_flush only ever sets it to 1
        metrics.REST_WEIGHT.set(recorder.budget.used)
        if recorder.spot is not None:
            metrics.SPOT_REST_WEIGHT.set(recorder.spot.rest.budget.used)
        if tick % 60 == 0:
            written = {n: w.stats.rows_written for n, w in recorder.writers.items()}
            bad = recorder.handler.bad.counts if recorder.handler else {}
            log.info(
                "rows written %s; db %s; stale %s; malformed %s",
                ", ".join(f"{n} {c:,}" for n, c in written.items()),
                body["db"],
                body["stale"] or "none",
                bad or "none",
            )


async def _retention(s: Settings) -> None:
    """Apache-license retention: drop whole expired chunks every hour."""
    while True:
        with contextlib.suppress(DatabaseUnavailable, asyncpg.PostgresError, OSError):
            conn = await connect(s.database_url)
            try:
                if await timescaledb_license(conn) != "timescale":
                    dropped = await drop_expired_chunks(conn, s.retention, dt.datetime.now(dt.UTC))
                    if any(dropped.values()):
                        log.info("retention dropped chunks: %s", dropped)
            finally:
                await conn.close()
        await asyncio.sleep(3600)


__all__ = ["Recorder", "RestError", "main", "run_recorder"]
