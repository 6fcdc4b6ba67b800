"""``python main.py record``: the recorder's composition root.

Builds the writers, the REST client, the books, the stream connections and the health server
from the settings, runs them under one TaskGroup, and on SIGINT/SIGTERM stops reading and
flushes every batch before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import uvloop

from collector import health, metrics, streams
from collector.backfill import Backfiller
from collector.connection import StreamConnection
from collector.depth import DepthKeeper
from collector.events import EventLog, utc_now
from collector.handler import FrameHandler
from collector.logs import setup_logging
from collector.pollers import poll_open_interest
from collector.rest import BinanceRest, RestError, WeightBudget
from collector.rows import COLUMNS, TABLES
from collector.sequence import TradeSequence
from collector.subscriptions import Subscriptions
from collector.universe import Universe, top_symbols
from db.connect import DatabaseUnavailable, connect
from db.migrate import timescaledb_license
from db.readers import last_agg_trade_ids, last_depth_update_ids, open_trade_gaps
from db.retention import drop_expired_chunks
from db.spool import Spool
from db.writer import CommitWatermark, Dropped, TableWriter
from settings import Settings, SettingsError

log = logging.getLogger("collector")

EVENT_TABLES = ("agg_trades", "depth_updates", "mark_prices", "force_orders")


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print("usage: python main.py record   (configured by environment / .env; see .env.example)")
        return 0
    return run_with_settings(_run_until_signal)


def run_with_settings(job: Callable[[Settings], Coroutine[Any, Any, None]]) -> int:
    """Settings and logging from the environment, then ``job`` on uvloop; one-line errors."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    setup_logging(settings.log_level, settings.log_format)
    try:
        uvloop.run(job(settings))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run_until_signal(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_recorder(settings, stop)


@dataclass
class Recorder:
    """What a running recorder exposes to /health, the stats line and tests."""

    settings: Settings
    symbols: list[str]
    writers: dict[str, TableWriter]
    spool: Spool
    budget: WeightBudget
    handler: FrameHandler | None = None
    keeper: DepthKeeper | None = None
    connections: list[StreamConnection] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    metrics_port: int | None = None

    def health(self) -> tuple[bool, dict]:
        limits = streams.STALE_AFTER
        expected = [f"{kind}:{s}" for s in self.symbols for kind in limits]
        last_seen = self.handler.last_seen if self.handler else {}
        ages = health.ages(last_seen, expected, self.started)
        stale = sorted(k for k, age in ages.items() if age > limits[k.split(":")[0]])
        now = time.time()
        tables = {}
        db_failing_for = 0.0
        for name, w in self.writers.items():
            s = w.stats
            failing = now - s.failing_since if s.failing_since else 0.0
            db_failing_for = max(db_failing_for, failing)
            tables[name] = {
                "last_flush_age": round(now - s.last_flush, 3) if s.last_flush else None,
                "queued": w.queued,
                "rows_written": s.rows_written,
                "rows_spooled": s.rows_spooled,
                "rows_dropped": s.rows_dropped,
                "failing_for": round(failing, 3),
            }
        books = {s: b.valid for s, b in self.keeper.books.items()} if self.keeper else {}
        db_ok = db_failing_for < health.DB_FAILING_THRESHOLD
        body = {
            "status": "ok" if db_ok and not stale else "degraded",
            "streams": ages,
            "stale": stale,
            "tables": tables,
            "db": "up" if db_failing_for == 0 else ("failing" if not db_ok else "retrying"),
            "spool_bytes": self.spool.bytes_used,
            "books_valid": books,
        }
        return db_ok and not stale, body


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

    spool = Spool(settings.spool_dir, settings.spool_max_bytes)
    writers: dict[str, TableWriter] = {}
    route: dict[type, TableWriter] = {}

    def put(row: tuple) -> None:
        route[type(row)].put(row)

    events = EventLog(put, clock)

    def on_rest_limit(status: int, retry_after: float, path: str) -> None:
        metrics.REST_LIMITED.labels(str(status)).inc()
        events.record("rest_limited", {"status": status, "retry_after": retry_after}, stream=path)

    watermark = CommitWatermark()
    for cls, table in TABLES.items():
        writers[table] = route[cls] = _writer(settings, table, spool, events, watermark)
    for w in writers.values():  # first, so the resume point read from the database is current
        await w.replay_spool()
    writer_tasks = [asyncio.create_task(w.run(), name=f"writer:{t}") for t, w in writers.items()]
    try:
        async with aiohttp.ClientSession() as http:
            budget = WeightBudget()
            rest = BinanceRest(settings.binance_rest_url, http, budget, on_limit=on_rest_limit)
            symbols = list(settings.symbols)
            if settings.top_n:
                symbols = await top_symbols(rest, settings.top_n)
                log.info(
                    "top %d symbols by 24h quote volume: %s", settings.top_n, ",".join(symbols)
                )
            recorder = Recorder(settings, symbols, writers, spool, budget)
            await _record(recorder, rest, put, events, clock, stop, on_ready)
    finally:
        # recorder_events last: the others' final flushes may still record events (a replay)
        by_table = dict(zip(writers, writer_tasks, strict=True))
        for group in ([t for t in writers if t != "recorder_events"], ["recorder_events"]):
            for table in group:
                await writers[table].close()
            await asyncio.gather(*(by_table[t] for t in group), return_exceptions=True)
        log.info("all batches flushed; recorder stopped")


async def _record(
    recorder: Recorder,
    rest: BinanceRest,
    put: Callable[[tuple], None],
    events: EventLog,
    clock: Callable[[], dt.datetime],
    stop: asyncio.Event,
    on_ready: Callable[[Recorder], None] | None,
) -> None:
    s, symbols = recorder.settings, recorder.symbols
    resume = await _resume_state(s.database_url, symbols)
    sequences = resume.sequences
    keeper = DepthKeeper(
        symbols,
        rest,
        put,
        events,
        clock,
        top_levels=s.book_top_levels,
        top_interval=s.book_top_interval,
        snapshot_interval=s.depth_snapshot_interval,
        last_update_ids=resume.last_update_ids,
    )
    backfiller = Backfiller(rest, put, events, sequences, clock)
    for gap in resume.open_gaps:
        backfiller.resume(gap["symbol"], gap["first_id"], gap["last_id"], gap["ref"])
    handler = FrameHandler(
        symbols=set(symbols),
        put=put,
        events=events,
        books=keeper.books,
        trades=sequences,
        on_depth_gap=keeper.on_invalid,
        on_trade_hole=backfiller.on_hole,
        clock=clock,
    )
    recorder.handler, recorder.keeper = handler, keeper
    subscriptions = _subscriptions(s, symbols, handler, events)
    recorder.connections = subscriptions.connections
    runner, recorder.metrics_port = await health.start(
        health.build_app(recorder.health), s.metrics_host, s.metrics_port
    )
    events.record("start", {"symbols": symbols, "connections": len(recorder.connections)})
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
            if s.top_n:
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
                )
                tg.create_task(universe.run(), name="universe")
            tg.create_task(keeper.run(), name="depth")
            tg.create_task(backfiller.run(), name="backfill")
            tg.create_task(
                poll_open_interest(symbols, rest, put, clock, s.oi_poll_interval, handler.bad),
                name="open-interest",
            )
            tg.create_task(_stats_every_minute(recorder), name="stats")
            if s.retention:
                tg.create_task(_retention(s), name="retention")
            tg.create_task(_raise_when_set(stop), name="stop")
    except* _Stopped:
        events.record("stop", {"reason": "signal"})
    finally:
        await runner.cleanup()


class _Stopped(Exception):
    pass


async def _raise_when_set(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stopped


def _subscriptions(
    s: Settings, symbols: list[str], handler: FrameHandler, events: EventLog
) -> Subscriptions:
    def make(name: str, route: str, names: list[str]) -> StreamConnection:
        def url_for(names: list[str]) -> str:
            return streams.combined_url(s.binance_ws_url, route, names)

        return StreamConnection(
            name,
            url_for(names),
            handler,
            on_event=_connection_events(name, events),
            max_age=s.connection_max_age,
            silent_after=s.silent_after,
            streams=names,
            url_for=url_for,
        )

    return Subscriptions(streams.futures_streams(symbols, s.depth_speed), make)


def _connection_events(name: str, events: EventLog) -> Callable[[str, dict], None]:
    def on_event(kind: str, details: dict) -> None:
        if kind == "connect":
            metrics.RECONNECTS.labels(name).inc()
        elif kind == "stale":
            metrics.STALE.labels(name).inc()
        events.record(kind, details, stream=name)

    return on_event


def _writer(
    settings: Settings, table: str, spool: Spool, events: EventLog, watermark: CommitWatermark
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
            for row in batch[:: max(1, len(batch) // 50)]:  # a sample keeps this cheap
                lag.observe((now - row[0]).total_seconds())

    def on_drop(name: str, dropped: Dropped) -> None:
        """Called once writes work again, so the gap row itself is not lost to the outage."""
        metrics.DROPPED.labels(name).inc(dropped.rows)
        events.record(
            "gap",
            {"reason": dropped.reason, "rows": dropped.rows},
            stream=name,
            start_time=dropped.first_time,
            end_time=dropped.last_time,
            status="unrecoverable",
        )

    def on_event(name: str, kind: str, details: dict) -> None:
        events.record(kind, details, stream=name)

    return TableWriter(
        table,
        COLUMNS[table],
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
    )


@dataclass
class _Resume:
    """Where the last run stopped, read from the database at start."""

    sequences: dict[str, TradeSequence]
    last_update_ids: dict[str, int]
    open_gaps: list[asyncpg.Record]


async def _resume_state(url: str, symbols: list[str]) -> _Resume:
    conn = await connect(url)
    try:
        last = await last_agg_trade_ids(conn, symbols)
        last_u = await last_depth_update_ids(conn, symbols)
        gaps = await open_trade_gaps(conn, symbols)
    finally:
        await conn.close()
    if last:
        log.info("resuming aggTrade ids from the database: %s", last)
    return _Resume({s: TradeSequence(last.get(s)) for s in symbols}, last_u, list(gaps))


async def _stats_every_minute(recorder: Recorder) -> None:
    tick = 0
    spooled = {name: 0 for name in recorder.writers}
    while True:
        await asyncio.sleep(1)
        tick += 1
        _, body = recorder.health()
        for key, age in body["streams"].items():
            metrics.LAST_MESSAGE_AGE.labels(key).set(age)
        for name, w in recorder.writers.items():
            metrics.QUEUE_ROWS.labels(name).set(w.queued)
            metrics.SPOOLED.labels(name).inc(w.stats.rows_spooled - spooled[name])
            spooled[name] = w.stats.rows_spooled
        metrics.SPOOL_BYTES.set(recorder.spool.bytes_used)
        metrics.DB_UP.set(1 if body["db"] == "up" else 0)  # on_flush only ever sets it to 1
        metrics.REST_WEIGHT.set(recorder.budget.used)
        if tick % 60 == 0:
            written = {n: w.stats.rows_written for n, w in recorder.writers.items()}
            bad = recorder.handler.bad.counts if recorder.handler else {}
            log.info(
                "rows written %s; db %s; stale %s; malformed %s",
                written,
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
