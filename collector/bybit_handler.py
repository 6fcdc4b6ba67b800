"""Bybit frames -> rows, books and declared holes. Never waits, never raises on venue input.

Every topic message is parsed by ``collector.venues.bybit.parse`` (the only reader of Bybit's
payloads), stored (``collector.bybit_store`` says where), and fed to its state: trades through
each symbol's ``TradeLedger`` (repeats dropped), order-book messages through each symbol's
``BybitBook`` (the u chain), tickers through the kept ``parse.Tickers`` state. Malformed frames
are counted by ``BadInput`` and skipped.

Holes are declared in recorder_events (venue bybit), never assumed away:
- a broken u chain: a depth gap (the ids and times between the last applied delta and the one
  that did not chain), then the topic is subscribed anew; its snapshot closes the gap (resync);
- a ``u == 1`` snapshot (Bybit's service restarted): what came between the last applied delta
  and the reset is declared and closed at once by that snapshot;
- a connection lost: a depth gap per book it carried (closed by the next snapshot) and, once it
  is back, the trades spliced from REST recent-trade (``TradeLedger.splice``): repaired when the
  window reaches the last trade seen, unrecoverable (by time: UUIDs are no sequence) when not;
- a restart: the same, from the newest trade and delta the last run stored (``resume``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from collector import bybit_store as store
from collector import metrics
from collector.events import EventLog
from collector.handler import BadInput
from collector.venues.bybit import parse
from collector.venues.bybit.book import BybitBook, Outcome
from collector.venues.bybit.rows import MARKET, BookRow, TradeRow
from collector.venues.bybit.trades import Splice, TradeLedger

log = logging.getLogger(__name__)

STALE_AFTER = {"publicTrade": 120.0, "orderbook": 10.0, "tickers": 10.0}  # seconds, for /health
PREFIX = "bybit:"  # of /health stream keys, book keys and metric labels


class BybitHandler:
    def __init__(
        self,
        symbols: list[str],
        put: Callable[[tuple], None],
        put_trade: Callable[[tuple], None],
        events: EventLog,
        clock: Callable[[], dt.datetime],
        resubscribe: Callable[[str], None],
        depth: int,
    ) -> None:
        self.put = put  # a collector.rows row, stored with venue bybit
        self.put_trade = put_trade  # a store.trade tuple
        self.events = events
        self.clock = clock
        self.resubscribe = resubscribe  # topic -> ask its connection for a fresh snapshot
        self.depth = depth
        self.books = {s: BybitBook() for s in symbols}
        self.ledgers = {s: TradeLedger() for s in symbols}
        self.tickers = parse.Tickers()
        self.bad = BadInput(events)
        self.last_seen: dict[str, float] = {}  # "bybit:<kind>:<symbol>" -> monotonic
        self.book_times: dict[str, dt.datetime] = {}  # ts of the message the book is at
        self.started: set[str] = set()  # symbols whose first snapshot of this run is stored
        self.open_gaps: dict[str, list[uuid.UUID]] = {}  # depth gaps a snapshot will close
        self.last_mark: dict[str, tuple[Any, ...]] = {}
        self.last_oi: dict[str, float] = {}
        self.resumed: dict[str, tuple[int, dt.datetime]] = {}  # the last run's newest delta
        self._counters = {k: metrics.MESSAGES.labels(PREFIX + k) for k in STALE_AFTER}

    def resume(
        self, trades: dict[str, TradeRow], deltas: dict[str, tuple[int, dt.datetime]]
    ) -> None:
        """Where an earlier run stopped: its newest trade (spliced onto once connected) and
        delta (the depth from it to this run's first snapshot is declared)."""
        for symbol, row in trades.items():
            if symbol in self.ledgers:
                self.ledgers[symbol].resume(row)
        self.resumed = {s: d for s, d in deltas.items() if s in self.books}

    def add(self, symbol: str) -> None:
        """A symbol joins (top:N): its first snapshot is a start."""
        self.books[symbol] = BybitBook()
        self.ledgers[symbol] = TradeLedger()

    def remove(self, symbol: str) -> None:
        """A symbol leaves (top:N): its state goes; a depth gap still open cannot be closed."""
        for kept in (self.books, self.ledgers, self.book_times, self.last_mark, self.last_oi):
            kept.pop(symbol, None)  # type: ignore[attr-defined]
        self.tickers.forget(symbol)
        self.started.discard(symbol)
        for ref in self.open_gaps.pop(symbol, []):
            self.events.record(
                "resync", {"reason": "left the universe"}, symbol=symbol, market=MARKET,
                stream="depth_updates", status="unrecoverable", ref=ref,
            )  # fmt: skip
        for kind in STALE_AFTER:
            self.last_seen.pop(f"{PREFIX}{kind}:{symbol}", None)
        metrics.BOOK_VALID.labels(PREFIX + symbol).set(0)

    # ---- frames --------------------------------------------------------------------------------

    def on_frame(self, raw: str | bytes) -> None:
        kind = "frame"
        try:
            d = parse.decode(raw)
            reply = parse.op_reply(d)
            if reply is not None:
                self._op_reply(reply)
                return
            kind, _, symbol = parse.topic_parts(d["topic"])
            if symbol not in self.books:
                return  # unsubscribed meanwhile
            received_at = self.clock()
            if kind == "publicTrade":
                self._trades(parse.trades(d, received_at))
            elif kind == "orderbook":
                self._book(parse.book(d, received_at))
            elif kind == "allLiquidation":
                for row in parse.liquidations(d, received_at):
                    self.put(store.liquidation(row))
            elif kind == "tickers":
                self._ticker(d, received_at)
            else:
                raise ValueError(f"unknown topic {d['topic']!r}")
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            self.bad.report(PREFIX + kind, raw, exc)
            return
        if kind in self._counters:
            self._counters[kind].inc()
            self.last_seen[f"{PREFIX}{kind}:{symbol}"] = time.monotonic()

    def _op_reply(self, reply: parse.OpReply) -> None:
        if not reply.success:  # e.g. a topic Bybit does not have: it stays silent, /health says
            log.error("bybit %s failed: %s", reply.op, reply.ret_msg)
            self.events.record("subscribe_failed", {"op": reply.op, "ret_msg": reply.ret_msg})

    def _trades(self, rows: list[TradeRow]) -> None:
        if rows:
            for row in self.ledgers[rows[0].symbol].fresh(rows):
                self.put_trade(store.trade(row))

    def _ticker(self, d: dict[str, Any], received_at: dt.datetime) -> None:
        row = self.tickers.update(d, received_at)
        marks = (row.mark_price, row.index_price, row.funding_rate)
        if row.mark_price is not None and self.last_mark.get(row.symbol) != marks:
            self.last_mark[row.symbol] = marks
            self.put(store.mark(row))
        if row.open_interest is not None and self.last_oi.get(row.symbol) != row.open_interest:
            self.last_oi[row.symbol] = row.open_interest
            self.put(store.open_interest(row))

    # ---- order book ----------------------------------------------------------------------------

    def _book(self, row: BookRow) -> None:
        symbol = row.symbol
        book = self.books[symbol]
        if row.snapshot:
            reason = "resync" if symbol in self.started else "start"
            self.started.add(symbol)
            self.put(store.snapshot(row, reason))
        else:
            self.put(store.delta(row))
        was_synced, last_u, last_time = book.synced, book.update_id, self.book_times.get(symbol)
        outcome = book.on_message(row)
        if outcome is Outcome.GAP:
            self._declare(symbol, last_u, last_time, row, "u chain broken")
            metrics.BOOK_VALID.labels(PREFIX + symbol).set(0)
            self.resubscribe(f"orderbook.{self.depth}.{symbol}")
            return
        if outcome is Outcome.WAITING:
            return
        self.book_times[symbol] = row.time
        if outcome is Outcome.APPLIED:
            return
        if outcome is Outcome.RESET and was_synced:
            self._declare(symbol, last_u, last_time, row, "reset (u == 1)")
        elif symbol in self.resumed:  # this run's first snapshot: the hole since the last run
            last_u, last_time = self.resumed.pop(symbol)
            self._declare(symbol, last_u, last_time, row, "recorder restart")
        self._close(symbol, row)

    def _declare(
        self,
        symbol: str,
        last_u: int | None,
        last_time: dt.datetime | None,
        row: BookRow | None,
        reason: str,
    ) -> None:
        """A depth gap from the last applied message to ``row`` (None: not known yet)."""
        ref = uuid.uuid4()
        self.open_gaps.setdefault(symbol, []).append(ref)
        chained = row is not None and not row.snapshot and last_u is not None
        metrics.GAPS.labels(PREFIX + "depth_updates").inc()
        self.events.record(
            "gap",
            {"reason": reason, "last_u": last_u, "u": row.update_id if row else None},
            symbol=symbol,
            market=MARKET,
            stream="depth_updates",
            first_id=None if last_u is None else last_u + 1,
            last_id=row.update_id - 1 if chained and row is not None else None,
            start_time=last_time,
            end_time=row.time if row is not None else None,
            status="open",
            ref=ref,
        )
        log.warning("bybit %s: depth gap after u=%s (%s); resyncing", symbol, last_u, reason)

    def _close(self, symbol: str, row: BookRow) -> None:
        """A snapshot holds the book again: the gaps open for it are resynced."""
        metrics.BOOK_VALID.labels(PREFIX + symbol).set(1)
        refs = self.open_gaps.pop(symbol, [])
        if refs:
            metrics.RESYNCS.labels(PREFIX + symbol).inc()
        for ref in refs:
            self.events.record(
                "resync",
                {"last_update_id": row.update_id, "snapshot_time": row.time.isoformat()},
                symbol=symbol,
                market=MARKET,
                stream="depth_updates",
                status="resynced",
                ref=ref,
            )

    # ---- connections ---------------------------------------------------------------------------

    def streams_down(self, topics: list[str]) -> None:
        """The connection carrying ``topics`` is gone: books wait for their next snapshot, the
        trade ledgers remember where the stream broke, tickers start again from a snapshot."""
        for topic in topics:
            kind, _, symbol = parse.topic_parts(topic)
            if symbol not in self.books:
                continue
            if kind == "orderbook":
                book = self.books[symbol]
                if book.synced:
                    last_time = self.book_times.get(symbol)
                    self._declare(symbol, book.update_id, last_time, None, "connection lost")
                book.invalidate()
                metrics.BOOK_VALID.labels(PREFIX + symbol).set(0)
            elif kind == "publicTrade":
                self.ledgers[symbol].cut()
            elif kind == "tickers":
                self.tickers.forget(symbol)

    def spliced(self, symbol: str, anchor: TradeRow | None, s: Splice, reason: str) -> None:
        """The REST window after a reconnect (or a restart): its missed trades stored, the
        outage declared and resolved (repaired when proven, unrecoverable when trades may be
        lost beyond it)."""
        for row in s.rows:
            self.put_trade(store.trade(row))
        end = s.gap[1] if s.gap else None
        self.declare_trades(symbol, anchor, end, s.proven, len(s.rows), reason=reason)
        if not s.proven:
            log.error("bybit %s: trades after %s may be lost (beyond REST)", symbol, s.gap)
        else:
            log.info("bybit %s: %d missed trades back from REST", symbol, len(s.rows))

    def declare_trades(
        self,
        symbol: str,
        anchor: TradeRow | None,
        end: dt.datetime | None,
        proven: bool,
        rows: int,
        error: str | None = None,
        reason: str = "connection lost",
    ) -> None:
        ref = uuid.uuid4()
        start = anchor.time if anchor is not None else None
        metrics.GAPS.labels(PREFIX + "agg_trades").inc()
        common = {"symbol": symbol, "market": MARKET, "stream": "agg_trades"}
        details: dict[str, Any] = {"reason": reason, "rest_rows": rows}
        if error:
            details["error"] = error
        self.events.record(
            "gap", details, start_time=start, end_time=end or self.clock(), status="open",
            ref=ref, **common,
        )  # fmt: skip
        status = "repaired" if proven else "unrecoverable"
        self.events.record("backfill", {"rows": rows}, status=status, ref=ref, **common)
