"""A stand-in for the recorder's Bybit side, for strategy tests only: `record_bybit` runs the
simulator's Bybit v5 market over its real WebSocket, parses each frame with
`collector.venues.bybit.parse`, and stores the rows as the recorder is to store them (issue 19's
contract), committing every `FLUSH_S` and then NOTIFYing the commit watermark as db/writer.py
does, so a live strategy worker follows it as it follows the recorder.

When the recorder records Bybit, `record_bybit` becomes a call of the real recorder with Bybit
symbols (as conftest.py's `record` does for Binance); the tests using it do not change.

The rows, per table (venue 'bybit', market 'linear' where the table has a market):
- agg_trades: one per publicTrade entry; trade_uuid = i, the Binance ids NULL, time = T,
  event_time = the message's ts, extra = {seq, tick_direction, block_trade, rpi}.
- depth_updates: one per orderbook delta; time = ts, transaction_time = cts,
  first_update_id = final_update_id = u, prev_final_update_id = u - 1, levels as sent.
- depth_snapshots: one per orderbook snapshot; last_update_id = u, time = event_time = ts,
  transaction_time = cts, reason 'start' (the first of a subscription) or 'resync'.
- force_orders: one per allLiquidation entry, side normalised by the parser (SELL = a long was
  liquidated); time = ts, trade_time = T, filled at the bankruptcy price.
- mark_prices / open_interest: one per tickers message, from the merged ticker state.
- symbols: the instruments (REST instruments-info, market 'linear') at the start, so the
  strategy sizes with the exchange's lot step, as it does with the recorder's exchangeInfo.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import orjson

from collector.venues.bybit import parse, streams
from collector.venues.bybit.rows import BookRow, LiquidationRow, TickerRow, TradeRow
from db.instruments import store_instruments
from db.writer import COMMITTED_CHANNEL, NOTIFY_CHANNEL
from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until
from tests.integration.strategy.conftest import Session
from tests.sim_fixtures import make_simulator

VENUE = "bybit"
DEPTH = 50
FLUSH_S = 0.1
INSTANCE = "bybit-loader"  # the watermark's sender, as a recorder's instance name

_TRADE = """
INSERT INTO agg_trades (time, symbol, market, venue, trade_uuid, price, qty, is_buyer_maker,
                        event_time, received_at, extra)
VALUES ($1, $2, $3, 'bybit', $4, $5, $6, $7, $8, $9, $10::jsonb) ON CONFLICT DO NOTHING"""
_DELTA = """
INSERT INTO depth_updates (time, symbol, market, venue, transaction_time, first_update_id,
                           final_update_id, prev_final_update_id, bid_prices, bid_qtys,
                           ask_prices, ask_qtys, received_at, extra)
VALUES ($1, $2, $3, 'bybit', $4, $5, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
ON CONFLICT DO NOTHING"""
_SNAPSHOT = """
INSERT INTO depth_snapshots (time, symbol, market, venue, last_update_id, event_time,
                             transaction_time, reason, bid_prices, bid_qtys, ask_prices,
                             ask_qtys, received_at, extra)
VALUES ($1, $2, $3, 'bybit', $4, $1, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
ON CONFLICT DO NOTHING"""
_LIQUIDATION = """
INSERT INTO force_orders (time, symbol, venue, side, order_type, time_in_force, orig_qty, price,
                          avg_price, status, last_filled_qty, filled_qty, trade_time,
                          received_at, extra)
VALUES ($1, $2, 'bybit', $3, 'LIMIT', 'IOC', $4, $5, $5, 'FILLED', $4, $4, $6, $7, $8::jsonb)
ON CONFLICT DO NOTHING"""
_MARK = """
INSERT INTO mark_prices (time, symbol, venue, mark_price, index_price, funding_rate,
                         next_funding_time, received_at)
VALUES ($1, $2, 'bybit', $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"""
_OPEN_INTEREST = """
INSERT INTO open_interest (time, symbol, venue, open_interest, received_at)
VALUES ($1, $2, 'bybit', $3, $4) ON CONFLICT DO NOTHING"""


def _trade_args(t: TradeRow) -> tuple:
    extra = orjson.loads(t.extra) if t.extra else {}
    extra |= {"seq": t.seq, "tick_direction": t.tick_direction, "block_trade": t.block_trade,
              "rpi": t.rpi}  # fmt: skip
    return (t.time, t.symbol, t.market, t.trade_id, t.price, t.qty, t.is_buyer_maker,
            t.event_time, t.received_at, orjson.dumps(extra).decode())  # fmt: skip


def _delta_args(b: BookRow) -> tuple:
    return (b.time, b.symbol, b.market, b.matching_time, b.update_id, b.update_id - 1,
            b.bid_prices, b.bid_qtys, b.ask_prices, b.ask_qtys, b.received_at, b.extra)  # fmt: skip


def _snapshot_args(b: BookRow, reason: str) -> tuple:
    return (b.time, b.symbol, b.market, b.update_id, b.matching_time, reason, b.bid_prices,
            b.bid_qtys, b.ask_prices, b.ask_qtys, b.received_at, b.extra)  # fmt: skip


def _liquidation_args(x: LiquidationRow) -> tuple:
    return (x.event_time, x.symbol, x.side, x.qty, x.price, x.time, x.received_at, x.extra)


class BybitLoader:
    """Subscribes to every topic of `symbols`, keeps the parsed rows, commits them in batches."""

    def __init__(self, dsn: str, url: str, rest: str, symbols: list[str]) -> None:
        self.dsn, self.url, self.rest, self.symbols = dsn, url, rest, symbols
        self.tickers = parse.Tickers()
        self.batch: dict[str, list[tuple]] = {}
        self.subscribed: set[str] = set()  # books that had their first snapshot
        self.stored = 0

    async def run(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            async with aiohttp.ClientSession() as http:
                await self._instruments(conn, http)
                await self._stream(conn, http, stop)
        finally:
            await conn.close()

    async def _instruments(self, conn: asyncpg.Connection, http: aiohttp.ClientSession) -> None:
        url = f"{self.rest}/v5/market/instruments-info?category=linear"
        async with http.get(url) as resp:
            entries, _ = parse.page(parse.rest_result(await resp.json()))
        rows = [row for row in map(parse.instrument, entries) if row.symbol in self.symbols]
        await store_instruments(conn, rows, dt.datetime.now(dt.UTC))

    async def _stream(
        self, conn: asyncpg.Connection, http: aiohttp.ClientSession, stop: asyncio.Event
    ) -> None:
        async with http.ws_connect(self.url) as ws:
            topics = [t for s in self.symbols for t in streams.topics(s, DEPTH)]
            await ws.send_str(streams.op("subscribe", topics, "all"))
            reader = asyncio.create_task(self._read(ws))
            try:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), FLUSH_S)
                    await self._flush(conn)
            finally:
                reader.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            self._handle(parse.decode(message.data), dt.datetime.now(dt.UTC))

    def _handle(self, d: dict[str, Any], received: dt.datetime) -> None:
        if parse.op_reply(d) is not None:
            return
        kind, _, _ = parse.topic_parts(d["topic"])
        add = self.batch.setdefault
        if kind == "publicTrade":
            add(_TRADE, []).extend(_trade_args(t) for t in parse.trades(d, received))
        elif kind == "orderbook":
            row = parse.book(d, received)
            if row.snapshot:
                reason = "resync" if row.symbol in self.subscribed else "start"
                self.subscribed.add(row.symbol)
                add(_SNAPSHOT, []).append(_snapshot_args(row, reason))
            else:
                add(_DELTA, []).append(_delta_args(row))
        elif kind == "allLiquidation":
            rows = parse.liquidations(d, received)
            add(_LIQUIDATION, []).extend(_liquidation_args(x) for x in rows)
        elif kind == "tickers":
            self._ticker(self.tickers.update(d, received))

    def _ticker(self, t: TickerRow) -> None:
        if t.mark_price is not None:
            self.batch.setdefault(_MARK, []).append((t.time, t.symbol, t.mark_price,
                t.index_price, t.funding_rate, t.next_funding_time, t.received_at))  # fmt: skip
        if t.open_interest is not None:
            self.batch.setdefault(_OPEN_INTEREST, []).append(
                (t.time, t.symbol, t.open_interest, t.received_at)
            )

    async def _flush(self, conn: asyncpg.Connection) -> None:
        """Commit what came so far, then say every row received before now is committed."""
        through = int(time.time() * 1000)
        batch, self.batch = self.batch, {}
        async with conn.transaction():
            for sql, rows in batch.items():
                await conn.executemany(sql, rows)
                self.stored += len(rows)
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, "bybit")
        await conn.execute("SELECT pg_notify($1, $2)", COMMITTED_CHANNEL, f"{through} {INSTANCE}")


async def record_bybit(
    dsn: str,
    script: dict[str, Any],
    seconds: float,
    symbols: list[str],
    speed: float = 10.0,
    on_running: Callable[[Simulator], Awaitable[None]] | None = None,
) -> Session:
    """Run the simulator's Bybit market for `seconds` of simulated time into `dsn`."""
    sim = make_simulator(symbols=symbols, bybit_symbols=symbols, script=script, speed=speed)
    await sim.start()
    stop = asyncio.Event()
    loader = BybitLoader(dsn, sim.bybit_ws_url, sim.http_url, symbols)
    task = asyncio.create_task(loader.run(stop))
    try:
        await wait_until(lambda: loader.stored > 0 or task.done(), 20, "the first Bybit rows")
        start = sim.now
        sim.resume()
        if on_running is not None:
            await on_running(sim)
        await wait_until(lambda: sim.now - start >= seconds * 1000 or task.done(),
                         seconds / speed * 3 + 30, "the simulated session")  # fmt: skip
        sim.pause()
        await asyncio.sleep(1.0)  # the last frames and the last batch
        stop.set()
        await asyncio.wait_for(task, 30)
        return Session(start, sim.now, sim.episodes(), symbols)
    finally:
        stop.set()
        if not task.done():
            task.cancel()
        await sim.stop()
