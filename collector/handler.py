"""Turns every received frame into rows: decode, parse, de-duplicate, detect holes, feed books.

Never waits and never raises on exchange input: malformed frames, unknown event types and wrong
field types are counted per kind, logged once with a truncated sample, and skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from collector import metrics
from collector.events import EventLog
from collector.rows import AggTradeRow, DepthUpdateRow, ForceOrderRow, MarkPriceRow
from collector.venues.binance import parse, wire
from collector.venues.binance.book import BookSync, Break
from collector.venues.binance.sequence import Seen, TradeSequence, plausible
from markets import USDM

log = logging.getLogger(__name__)

SAMPLE_BYTES = 300
# Depth update ids move much faster than trade ids (every book change counts).
DEPTH_IDS_PER_SECOND = 10_000_000
DEPTH_ID_SLACK = 1_000_000_000
# Mark prices come every second per symbol (markPrice@1s): a silence of more than 1.5 s between
# two means at least one was missed (a connection down, a malformed frame, a restart). Binance
# cannot replay them, so the hole is declared, not repaired.
MARK_HOLE_AFTER = dt.timedelta(seconds=1.5)


class BadInput:
    """Counts unusable input per kind; logs and records the first of each kind with a sample."""

    def __init__(self, events: EventLog | None = None) -> None:
        self.counts: dict[str, int] = {}
        self.events = events

    def report(self, kind: str, sample: Any, error: BaseException | None = None) -> None:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        metrics.MALFORMED.labels(kind).inc()
        if n == 1:
            text = sample if isinstance(sample, bytes | str) else orjson.dumps(sample, default=str)
            text = text.decode(errors="replace") if isinstance(text, bytes) else text
            log.warning("unusable input (%s): %s; sample: %.300s", kind, error or "", text)
            if self.events is not None:
                self.events.record(
                    "malformed",
                    {"kind": kind, "error": str(error or ""), "sample": text[:SAMPLE_BYTES]},
                )


class FrameHandler:
    def __init__(
        self,
        *,
        symbols: set[str],
        put: Callable[[tuple], None],
        events: EventLog,
        books: dict[str, BookSync],
        trades: dict[str, TradeSequence],
        on_depth_gap: Callable[[str, Break | None], None],
        on_trade_hole: Callable[[str, int, int], None],
        clock: Callable[[], dt.datetime],
        market: str = USDM,
        last_marks: dict[str, dt.datetime] | None = None,
    ) -> None:
        self.symbols = symbols
        self.put = put
        self.events = events
        self.books = books
        self.trades = trades
        self.on_depth_gap = on_depth_gap
        self.on_trade_hole = on_trade_hole
        self.clock = clock
        self.market = market
        # spot's streams, counters and gaps are told apart by a "spot:" prefix (same metric names)
        self.prefix = "" if market == USDM else f"{market}:"
        self.bad = BadInput(events)
        self.last_seen: dict[str, float] = {}  # "aggTrade:BTCUSDT" (spot: "spot:aggTrade:...")
        # the newest mark price stored by an earlier run: the silence since is declared too
        self._last_mark: dict[str, dt.datetime] = dict(last_marks or {})
        self._suspects: dict[str, AggTradeRow] = {}  # symbol -> the trade held as a suspect
        self._parsers: dict[str, Callable[[dict, dt.datetime], tuple]] = {
            "aggTrade": lambda d, t: parse.agg_trade(d, t, market),
            "depthUpdate": lambda d, t: parse.depth_update(d, t, market),
            "markPriceUpdate": parse.mark_price,
            "forceOrder": parse.force_order,
        }
        # labels() per message costs a lock and a dict lookup (~5 % of per-frame CPU)
        self._counters = {k: metrics.MESSAGES.labels(self.prefix + k) for k in self._parsers}

    def __call__(self, frame: str | bytes) -> bool:
        """Handle one frame; True if it announces that the server will close the connection."""
        received_at = self.clock()
        row = wire.decode(frame, received_at, self.market)
        if row is not None:  # nearly every frame: a well-formed aggTrade or depth diff
            self._accept("aggTrade" if type(row) is AggTradeRow else "depthUpdate", row)
            return False
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            self.bad.report("invalid_json", frame[:SAMPLE_BYTES], exc)
            return False
        payloads = parse.frame_payloads(msg)
        if payloads == parse.SHUTDOWN:
            log.warning("%sserver announced it will close a connection: replacing it", self.prefix)
            return True
        if type(payloads) is str:
            if payloads != parse.REPLY:
                self.bad.report(payloads, frame[:SAMPLE_BYTES])
            return False
        for item in payloads:
            self._payload(item, received_at)
        return False

    def _payload(self, d: Any, received_at: dt.datetime) -> None:
        try:
            kind = parse.event_type(d)
            parser = self._parsers.get(kind)
        except (KeyError, TypeError) as exc:
            self.bad.report("no_event_type", d, exc)
            return
        if parser is None:
            self.bad.report(f"unknown_event:{kind}"[:60], d)
            return
        if kind in ("markPriceUpdate", "forceOrder") and not parse.is_usdm(d):
            return  # COIN-M symbols on the merged all-market streams
        try:
            row = parser(d, received_at)
        except (KeyError, ValueError, TypeError, AttributeError, IndexError, OverflowError) as exc:
            self.bad.report(f"bad_{kind}", d, exc)
            return
        self._accept(kind, row)

    def _accept(self, kind: str, row: Any) -> None:
        self._counters[kind].inc()
        if row.symbol not in self.symbols:
            return  # all-market streams carry every symbol; keep ours
        self.last_seen[f"{self.prefix}{kind}:{row.symbol}"] = time.monotonic()
        if kind == "aggTrade":
            self._trade(row)  # type: ignore[arg-type]
        elif kind == "depthUpdate":
            self._depth(row)  # type: ignore[arg-type]
        elif kind == "markPriceUpdate":
            self._mark(row)  # type: ignore[arg-type]
        else:
            self._force(row)  # type: ignore[arg-type]

    def _trade(self, row: AggTradeRow) -> None:
        seq = self.trades.get(row.symbol)
        if seq is None:
            seq = self.trades[row.symbol] = TradeSequence()
        last_id = seq.last_id
        seen, hole = seq.observe(row.agg_trade_id, row.time)
        if seen is Seen.DUPLICATE:
            return
        if seen is Seen.SUSPECT:  # held until the next id says poison or new era
            held = self._suspects.pop(row.symbol, None)
            if held is not None:
                self._implausible("aggTrade", held, last_id)
            self._suspects[row.symbol] = row
            return
        # a late id filling a hole decides nothing about a held suspect; a new one does
        held = None if seen is Seen.FILLED else self._suspects.pop(row.symbol, None)
        if seen is Seen.ERA:
            first = held.agg_trade_id if held is not None else row.agg_trade_id
            self._new_era("agg_trades", row.symbol, last_id, first)
            if held is not None:
                self.put(held)
        elif held is not None:  # the sequence went on without it: a poison frame
            self._implausible("aggTrade", held, last_id)
        self.put(row)
        if hole is not None:
            metrics.GAPS.labels(self.prefix + "agg_trades").inc()
            self.on_trade_hole(row.symbol, hole[0], hole[1])

    def _implausible(self, kind: str, row: tuple, last_id: int | None) -> None:
        self.bad.report(f"bad_{kind}", row._asdict(), ValueError(f"id implausible after {last_id}"))

    def _new_era(self, stream: str, symbol: str, last_id: int | None, first_id: int) -> None:
        """The exchange's ids started again (or jumped beyond reach): recording goes on."""
        metrics.SEQUENCE_ERAS.labels(self.prefix + stream).inc()
        log.warning(
            "%s%s: %s ids jump from %s to %d: a new sequence starts there",
            self.prefix, symbol, stream, last_id, first_id,
        )  # fmt: skip
        self.events.record(
            "sequence_era",
            {"previous_id": last_id, "first_id": first_id},
            symbol=symbol,
            market=self.market,
            stream=stream,
            first_id=first_id,
        )

    def _depth(self, row: DepthUpdateRow) -> None:
        sync = self.books.get(row.symbol)
        if sync is None:
            return
        prev_u, prev_time = sync.prev_u, sync.prev_time
        if prev_u is not None and row.final_update_id <= prev_u:
            if prev_time is None or row.time <= prev_time:
                return  # the same diff from an overlapping connection
            self._new_era("depth_updates", row.symbol, prev_u, row.final_update_id)
            sync.reset()  # an older id with a newer time: the ids started again
        elif prev_u is not None and prev_time is not None:
            since = row.time - prev_time
            ahead = row.final_update_id - prev_u
            if not plausible(ahead, since, DEPTH_IDS_PER_SECOND, DEPTH_ID_SLACK):
                # dropped, not chained: if it stood for a real diff, the next one breaks
                # the chain and the hole is declared and resynced like any other
                self._implausible("depthUpdate", row, prev_u)
                return
        self.put(row)
        brk = sync.on_diff(row)
        if brk is not None:
            metrics.GAPS.labels(self.prefix + "depth_updates").inc()
        if not sync.valid:
            self.on_depth_gap(row.symbol, brk)  # records the gap, asks for a snapshot

    def streams_down(self, names: list[str]) -> None:
        """A connection carrying ``names`` is down: its books give no ``book_top`` row until
        their next diff arrives."""
        for name in names:
            symbol, _, topic = name.partition("@")
            sync = self.books.get(symbol.upper()) if topic.startswith("depth") else None
            if sync is not None:
                sync.stream_down = True

    def _mark(self, row: MarkPriceRow) -> None:
        last = self._last_mark.get(row.symbol)
        if last is not None and row.time <= last:
            return
        self._last_mark[row.symbol] = row.time
        self.put(row)
        if last is not None and row.time - last > MARK_HOLE_AFTER:
            metrics.GAPS.labels(self.prefix + "mark_prices").inc()
            self.events.record(
                "gap",
                {"silent_seconds": (row.time - last).total_seconds()},
                symbol=row.symbol,
                market=self.market,
                stream="mark_prices",
                start_time=last,
                end_time=row.time,
                status="unrecoverable",
            )

    def _force(self, row: ForceOrderRow) -> None:
        self.put(row)
