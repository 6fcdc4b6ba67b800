"""The live strategy worker: tails the recorded tables and runs the engine as bars complete.

When can bar [t, t+B) be computed? When every row with time < t+B is committed. With each flush
the recorder NOTIFYs `flowline_committed` a time before which everything it received, in every
table, is committed (db/writer.py `CommitWatermark`); rows received before it are settled. A
recorder that sends none (an older version) flushes within BATCH_MAX_MS, so then rows received
more than `settle_ms` ago count as settled. The horizon is the newest exchange time among settled
rows of the two continuous streams (aggTrades and depth diffs); a stream of which nothing was
received for `STALL_MS` while the other went on (stopped, or silent for an illiquid market) does
not hold the worker back. Silence is measured on the recorder's clock, not in exchange time: a
recorder working off a backlog receives one connection's frames late, and that stream is behind,
not silent.
The watermark does not advance while a recorder's rows wait in its spool (a database outage),
nor, for up to GAP_HOLD_MAX, while a futures connection is down or an aggTrade hole is being
backfilled (db/writer.py `CommitWatermark.hold`), so backfilled trades are seen live. Rows that
arrive after that cap are not; `recorder_events` marks those periods and a backtest includes them.
Recorders sharing the symbols through leases (LEASES=on) are all waited for: one that went silent
while holding leases holds the worker at its last watermark, and a lease taken over at the
previous owner's until the new owner has repaired the takeover (`recorder_leases`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import asyncpg

from db import leases
from db.connect import connect, create_pool
from db.writer import COMMITTED_CHANNEL
from strategy import metrics, store, universe
from strategy.binance.config import BinanceConfig
from strategy.binance.executor import BinanceExecutor
from strategy.config import StrategyConfig, fingerprint
from strategy.engine import Engine, Outputs
from strategy.live_report import ReportScheduler
from strategy.notify import Notifiers
from strategy.screen import run_checks
from strategy.signals import Signal
from strategy.source import (
    WINDOW_MS,
    fetch_range,
    infer_lot_step,
    infer_tick_size,
    setup_reader,
)
from strategy.spot.config import SpotConfig
from strategy.spot.executor import SpotExecutor
from strategy.telegram import TelegramConfig
from strategy.venue import BINANCE, VENUES, Venue
from strategy.warmup import warm_up

log = logging.getLogger("flowline.strategy")
STALL_MS = 5_000
LEASE_POLL = 0.5  # seconds between reads of recorder_leases
LEASE_GRACE = 60.0  # seconds an expired lease nobody took over is still waited for
FOLLOW_EVERY_S = 1.0  # how often the recorder's declared universe is read
ROWS_CHANNEL = "flowline_rows"  # the recorder NOTIFYs after every flush
GC_EVERY_S = 300.0  # how often a full garbage collection runs between steps (see `_collect`)

# Each symbol's newest committed row, found by walking its (symbol, time DESC) index from the
# top: a few rows read, where max() over the window read every row of the last minute.
_HORIZON = """
SELECT max(r.time), max(r.received_at) FROM unnest($1::text[]) AS s(symbol),
LATERAL (SELECT time, received_at FROM {table}
         WHERE symbol = s.symbol AND market = $4 AND venue = $5 AND time >= $2 AND received_at <= $3
         ORDER BY time DESC LIMIT 1) AS r"""


@dataclass
class WorkerState:
    """What /health reports."""

    processed_ms: int | None = None
    horizon_ms: int | None = None
    last_step: float = field(default_factory=time.monotonic)
    db_ok: bool = True
    signals: int = 0
    open_positions: int = 0


async def horizon(
    conn: asyncpg.Connection,
    symbols: tuple[str, ...],
    after_ms: int,
    cutoff: int,
    venue: Venue = BINANCE,
) -> tuple[int | None, int | None]:
    """(exchange time every row before which is committed, when the newest of them was received),
    from `venue`'s rows received before `cutoff` (ms): those are committed. A stream counts as
    live while its newest row was received within STALL_MS of the other's."""
    newest: list[tuple[int, int]] = []
    for table in ("agg_trades", "depth_updates"):
        sql = _HORIZON.format(table=table)
        row = await conn.fetchrow(sql, list(symbols), after_ms, cutoff, venue.market, venue.name)
        if row[0] is not None:
            newest.append((row[0], row[1]))
    if not newest:
        return None, None
    heard = max(r for _, r in newest)
    live = [t for t, r in newest if heard - r <= STALL_MS]
    return min(live), heard


class Worker:
    def __init__(self, config: StrategyConfig, dsn: str, reset: bool = False) -> None:
        self.config, self.dsn = config, dsn
        self.reset = reset  # --reset: forget the watermark of `worker_name` at the first start
        self.fingerprint = fingerprint(config)
        self.venue = VENUES[config.venue]
        self._pending = Outputs()  # positions ended by a universe change, written next step
        self._followed_at = 0.0  # when the recorder's universe was last read
        self.state = WorkerState()
        self.engine: Engine | None = None
        self.notify: Notifiers | None = None
        self.reports: ReportScheduler | None = None  # made once, with the notifiers
        self.exchange: BinanceExecutor | SpotExecutor | None = None  # EXECUTION=binance[-spot]
        self._entries: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._committed: dict[str, tuple[int, float]] = {}  # recorder -> (watermark, heard at)
        self._lease_floors: list[int] = []  # ms: silent lease holders and unsettled takeovers
        self._leases_read = 0.0
        self.on_step: Callable[[Outputs], None] | None = None  # after each commit (executors)
        self._collected = 0.0  # monotonic: the last full collection (0: not since the start)

    async def run(self, stop: asyncio.Event) -> None:
        reader, writer, listener = [await connect(self.dsn) for _ in range(3)]
        try:
            for conn in (reader, writer):
                await setup_reader(conn)
            await listener.add_listener(ROWS_CHANNEL, lambda *_: self._wake.set())
            await listener.add_listener(COMMITTED_CHANNEL, self._on_committed)
            self.notify = Notifiers(self.config.webhook_url, TelegramConfig.from_env())
            self.notify.start()
            if self.reports is None:
                self.reports = ReportScheduler(self.config)
            self.reports.notify = self.notify
            if self.config.executor.startswith("binance") and self.exchange is None:
                # made once: it outlives the restarts a database outage causes, so the exchange
                # is watched throughout (closed by `close()` when the worker stops for good)
                self.exchange = await _exchange_executor(self.config.executor, self.dsn)
                for signal, qty in await self.exchange.missed_entries():
                    self._enter(signal, qty)
            await self._start(reader, writer, stop)
            while not stop.is_set():
                if not await self._step(reader, writer):
                    await self._sleep(stop)
        finally:
            if self.notify is not None:
                await self.notify.close()
            if stop.is_set():
                await self.close()
            for conn in (listener, writer, reader):
                await conn.close()

    async def close(self) -> None:
        """Stop the exchange executor (the worker itself stops with `run`)."""
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            if self._entries:  # an entry half done is finished by reconciliation later
                await asyncio.wait(self._entries, timeout=10)
            await exchange.close()
            await exchange.store.pool.close()

    async def _start(
        self, reader: asyncpg.Connection, writer: asyncpg.Connection, stop: asyncio.Event
    ) -> None:
        cfg = self.config
        if self.reset:
            await store.reset(writer, cfg.worker_name)
            self.reset = False
        bar = cfg.indicators.bar_ms
        processed = await store.load_watermark(reader, cfg.worker_name, bar, self.fingerprint)
        ticks = await self._tick_sizes(reader, stop)
        if ticks is None:
            return
        steps = {s: await infer_lot_step(reader, s, self.venue) for s in ticks}
        self.engine = Engine(replace(cfg, symbols=tuple(ticks)), ticks, steps)
        symbols = self.engine.symbols
        if processed is None:  # first start: begin at the newest settled data
            newest, _ = await horizon(reader, symbols, 0, self.cutoff(), self.venue)
            while newest is None and not stop.is_set():
                await self._sleep(stop)
                newest, _ = await horizon(reader, symbols, 0, self.cutoff(), self.venue)
            if newest is None:
                return
            processed = newest - newest % bar
        await warm_up(reader, self.engine, self.engine.config, processed)
        restored = await store.restore(reader, self.engine, processed)
        if self.exchange is not None:  # its positions live in exchange_positions, not positions
            await self.exchange.restore_risk(self.engine.risk)
        self._pending = Outputs()
        if self.engine.paper is not None:  # left the universe while the worker was down
            for symbol in set(self.engine.paper.positions) - set(symbols):
                _merge(self._pending, self.engine.drop_symbol(symbol, processed))
        self.state.processed_ms = processed
        await self._report(reader, processed)
        resumes = dt.datetime.fromtimestamp(processed / 1000, dt.UTC)
        log.info(
            "strategy worker resumes at %s on %s (%d open positions restored)",
            resumes.isoformat(timespec="milliseconds"), ",".join(symbols), restored,
        )  # fmt: skip

    async def _symbols(self, reader: asyncpg.Connection, stop: asyncio.Event) -> tuple[str, ...]:
        """The configured symbols once a recorder knows them, else the recorder's universe;
        waits for a recorder to declare its symbols (a fresh database)."""
        cfg, venue = self.config, self.venue
        while not stop.is_set():
            if cfg.symbols and await universe.check_instruments(reader, cfg.symbols, venue):
                return cfg.symbols
            if not cfg.symbols and (found := await universe.declared(reader, cfg.top_n, venue)):
                return found
            log.info("waiting for a recorder to declare its symbols in recorder_events")
            await self._sleep(stop)
        return ()

    async def _tick_sizes(
        self, reader: asyncpg.Connection, stop: asyncio.Event
    ) -> dict[str, float | None] | None:
        """Each symbol's price step from the recorded book; waits for a first snapshot (of every
        configured symbol; following the recorder, of at least one: the others join later)."""
        fixed = self.config.indicators.tick_size
        ticks: dict[str, float | None] = {s: fixed for s in await self._symbols(reader, stop)}
        while not stop.is_set() and ticks:
            for symbol, tick in ticks.items():
                if tick is None:
                    ticks[symbol] = await infer_tick_size(reader, symbol, self.venue)
            missing = [s for s, t in ticks.items() if t is None]
            if not missing:
                return ticks
            if not self.config.symbols and len(missing) < len(ticks):
                return {s: t for s, t in ticks.items() if t is not None}
            log.info("waiting for a recorded depth snapshot of %s", ", ".join(missing))
            await self._sleep(stop)
        return None

    async def _follow(self, reader: asyncpg.Connection) -> None:
        """Following the recorder (no fixed symbols): apply its newest declared universe. A
        symbol that left ends its tracked position at the last price and gets no more signals;
        one that joined is warmed up on its recorded history (once it has a depth snapshot)."""
        engine, processed = self.engine, self.state.processed_ms
        if self.config.symbols or engine is None or processed is None:
            return
        if time.monotonic() - self._followed_at < FOLLOW_EVERY_S:
            return
        self._followed_at = time.monotonic()
        wanted = await universe.declared(reader, self.config.top_n, self.venue)
        if not wanted:
            return
        for symbol in [s for s in engine.symbols if s not in wanted]:
            _merge(self._pending, engine.drop_symbol(symbol, processed))
            log.info("%s left the recorder's universe: no more signals for it", symbol)
        for symbol in [s for s in wanted if s not in engine.pipelines]:
            tick = self.config.indicators.tick_size or await infer_tick_size(
                reader, symbol, self.venue
            )
            if tick is not None:  # else no recorded snapshot yet: tried again next time
                steps = {symbol: await infer_lot_step(reader, symbol, self.venue)}
                joining = Engine(replace(engine.config, symbols=(symbol,)), {symbol: tick}, steps)
                await warm_up(reader, joining, joining.config, processed)
                engine.adopt(joining, symbol)
                log.info("%s joined the recorder's universe: warmed up, signals from now", symbol)

    async def _step(self, reader: asyncpg.Connection, writer: asyncpg.Connection) -> bool:
        """Process the complete bars up to the horizon; False when there was nothing to do."""
        engine, cfg, state = self.engine, self.config, self.state
        if engine is None or state.processed_ms is None:
            return False
        await self._follow(reader)
        await self._read_leases(reader)
        bar = cfg.indicators.bar_ms
        after = state.processed_ms - 60_000
        newest, received = await horizon(reader, engine.symbols, after, self.cutoff(), self.venue)
        state.horizon_ms = newest
        if newest is None:
            return False
        until = min(newest - newest % bar, state.processed_ms + WINDOW_MS)
        if until <= state.processed_ms:
            return False
        rows = await fetch_range(reader, engine.symbols, state.processed_ms, until, self.venue)
        if engine.gate is not None:  # the universe checks these bars are judged by
            symbols = list(engine.symbols)
            await run_checks(reader, engine.gate, symbols, state.processed_ms, until, bar)
        if self.exchange is not None:  # positions the exchange closed free their risk slot
            for symbol, pnl in self.exchange.take_closed():  # a loss counts towards the cooldown
                if symbol in engine.risk.open:
                    engine.risk.on_closed(symbol, pnl, state.processed_ms)
            for symbol in set(engine.risk.open) - self.exchange.busy_symbols():
                engine.risk.on_closed(symbol, 0.0, state.processed_ms)  # closed while we were down
        out = _merge(self._pending, engine.feed(rows, until))
        if isinstance(self.exchange, SpotExecutor):  # the stop monitor's book-reading levels
            self.exchange.on_bars(engine.strategies, out.snapshots)
        try:
            await store.write(
                writer, cfg.worker_name, bar, out, until, cfg.write_indicators, cfg.executor,
                self.fingerprint, cfg.venue,
            )  # fmt: skip
        except (asyncpg.PostgresError, OSError):
            metrics.DB_UP.set(0)
            state.db_ok = False
            raise
        self._pending = Outputs()
        metrics.DB_UP.set(1)
        state.db_ok = True
        if isinstance(self.exchange, BinanceExecutor):  # exit rules over the same trades, bars
            bars = range(state.processed_ms + bar, until + 1, bar)
            await self.exchange.exits.on_bars(rows, out.snapshots, bars, engine.strategies,
                                              engine.exits, cfg.paper.max_hold_ms)  # fmt: skip
        self._after_commit(out, until, newest, received)
        self._collect(quiet=newest - until < bar and not out.signals)  # (entries go first)
        await self._report(reader, until)
        for signal, decision in out.signals:
            if decision.accepted:
                self._enter(signal, decision.qty)
        return True

    def _collect(self, quiet: bool) -> None:
        """A full garbage collection right after a quiet step that caught up (the next bar is the
        furthest off, no entry waits), then everything alive is frozen: Python's own full passes
        then scan only newer objects. One over the engine's state took 60 ms inside a step."""
        now = time.monotonic()
        if not quiet or now - self._collected < GC_EVERY_S:
            return
        self._collected = now
        gc.unfreeze()  # frozen objects are never collected: their garbage joins this pass
        gc.collect()
        gc.freeze()

    async def _report(self, reader: asyncpg.Connection, processed: int) -> None:
        """The daily/weekly reports due now; a file that cannot be written is logged, not
        retried (the worker goes on trading)."""
        if self.reports is not None:
            try:
                await self.reports.tick(reader, processed)
            except OSError as exc:
                log.error("report not written: %s", exc)

    def _enter(self, signal: Signal, qty: float) -> None:
        """On the exchange, in the background: an entry may wait on a LIMIT order."""
        if self.exchange is not None:
            task = asyncio.create_task(self.exchange.enter(signal, qty))
            self._entries.add(task)
            task.add_done_callback(self._entry_done)

    def _entry_done(self, task: asyncio.Task[None]) -> None:
        self._entries.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("binance entry failed: %r", task.exception())

    def _after_commit(self, out: Outputs, until: int, newest: int, received: int | None) -> None:
        state = self.state
        state.processed_ms, state.last_step = until, time.monotonic()
        metrics.PROCESSED.set(until / 1000)
        metrics.BEHIND.set(max(0, newest - until) / 1000)
        if received is not None:
            metrics.LATENCY.observe(max(0.0, time.time() - received / 1000))
        for snap in out.snapshots:
            metrics.BARS.labels(snap.symbol).inc()
        for signal, decision in out.signals:
            state.signals += 1
            metrics.SIGNALS.labels(signal.strategy, decision.reason).inc()
            log.info(
                "signal %s %s %s entry=%s stop=%s targets=%s quality=%s -> %s",
                signal.strategy, signal.symbol, signal.side.value, signal.entry, signal.stop,
                list(signal.targets), signal.quality.value, decision.reason,
            )  # fmt: skip
            if self.notify is not None:
                self.notify.signal(signal, decision, self._hold_ms(signal))
        for trade in out.closed if self.notify is not None else ():
            self.notify.closed(trade)
        for position in out.positions.values():
            for fill in position.fills if self.config.executor == "paper" else ():
                metrics.FILLS.labels(fill.kind).inc()  # (EXECUTION=off: hypothetical, not fills)
            position.fills.clear()  # written: later steps carry only new fills
        if self.engine is not None and self.engine.paper is not None:
            state.open_positions = len(self.engine.paper.positions)
        if self.on_step is not None:
            self.on_step(out)

    def _hold_ms(self, signal: Signal) -> int:
        """How long the signal's position may be held (its time exit; 0: no limit)."""
        exits = self.engine.exits.get(signal.strategy) if self.engine is not None else None
        default = self.config.paper.max_hold_ms
        return exits.hold_ms(signal.quality.value, default) if exits is not None else default

    def _on_committed(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            ms, recorder = payload.split()
            through = int(ms)
        except ValueError:
            log.warning("ignoring a malformed %s payload %r", channel, payload[:100])
            return
        # Concurrent flushes may deliver a smaller (still true) watermark after a larger one.
        known = self._committed.get(recorder, (through, 0.0))[0]
        self._committed[recorder] = (max(through, known), time.monotonic())
        self._wake.set()

    def _watermarks(self) -> list[int]:
        """The watermark of every recorder heard from lately (a stopped one is not waited for),
        and the floors the recorders sharing symbols through leases leave."""
        recent = time.monotonic() - STALL_MS / 1000
        return [ms for ms, heard in self._committed.values() if heard >= recent] + (
            self._lease_floors
        )

    async def _read_leases(self, reader: asyncpg.Connection) -> None:
        now = time.monotonic()
        if now - self._leases_read < LEASE_POLL:
            return
        self._leases_read = now
        try:
            rows = await leases.floors(reader, LEASE_GRACE)
        except asyncpg.UndefinedTableError:  # a database from before sql/021: no leases
            rows = []
        recent = now - STALL_MS / 1000
        floors = []
        for owner, mark, floor in rows:
            if floor is not None:
                floors.append(_ms(floor))
            heard = self._committed.get(owner or "")
            if owner is None or (heard is not None and heard[1] >= recent):
                continue  # a live recorder's own NOTIFYs count
            if heard is not None:
                floors.append(heard[0])
            elif mark is not None:
                floors.append(_ms(mark))
        self._lease_floors = floors

    def cutoff(self) -> int:
        """Rows received before this (ms) are committed: the recorders' watermarks, or without
        any, `settle_ms` before now."""
        marks = self._watermarks()
        if marks:
            return min(marks)
        return int(time.time() * 1000) - self.config.settle_ms

    async def _sleep(self, stop: asyncio.Event) -> None:
        """Until a NOTIFY (one that came during the last step counts), the poll interval, or
        stop; after a NOTIFY from a recorder without a watermark, let its rows settle."""
        if not self._wake.is_set():
            waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, stop)]
            await asyncio.wait(
                waits, timeout=self.config.poll_ms / 1000, return_when="FIRST_COMPLETED"
            )
            for w in waits:
                w.cancel()
        if self._wake.is_set() and not stop.is_set():
            self._wake.clear()
            if not self._watermarks():
                await asyncio.sleep(self.config.settle_ms / 1000)


async def _exchange_executor(kind: str, dsn: str) -> BinanceExecutor | SpotExecutor:
    """The exchange executor (binance: futures, binance-spot: spot): keys from the environment,
    its own small pool for its tables."""
    pool = await create_pool(dsn, min_size=1, max_size=2, application_name="flowline-executor")
    try:
        if kind == "binance-spot":
            return await SpotExecutor.create(SpotConfig.from_env(), pool)
        return await BinanceExecutor.create(BinanceConfig.from_env(), pool)
    except BaseException:
        await pool.close()
        raise


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _merge(first: Outputs, then: Outputs) -> Outputs:
    """`then` added to `first` (changes of the same position: the later state wins)."""
    first.snapshots += then.snapshots
    first.signals += then.signals
    first.positions.update(then.positions)
    first.closed += then.closed
    first.equity += then.equity
    return first
