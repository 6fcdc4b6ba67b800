"""The recorder's commit watermark (NOTIFY flowline_committed "<ms> <instance>"): when it says T,
every row received before T, in every table, is already committed — also across a database
outage, when the rows wait in the spool. The strategy worker relies on this instead of waiting.

Checked by counting, at each NOTIFY, the rows received before T, and again once the recorder has
stopped: a row received before T and committed after the NOTIFY would make the counts differ.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg

from db.writer import COMMITTED_CHANNEL
from sim.server import Simulator
from tests.integration.recorder.invariants import start_market

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
# table -> the recorder's clock in it (book_top rows are stamped when they are taken)
RECEIVED = {
    "agg_trades": "received_at",
    "depth_updates": "received_at",
    "depth_snapshots": "received_at",
    "mark_prices": "received_at",
    "open_interest": "received_at",
    "book_top": "time",
}
_COUNT = " UNION ALL ".join(
    f"SELECT '{t}', count(*) FROM {t} WHERE {c} < $1" for t, c in RECEIVED.items()
)


class Watch:
    """Each watermark heard, with the row counts below it right then."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.seen: list[tuple[int, str]] = []
        self.counted: list[tuple[dt.datetime, dict[str, int]]] = []
        self._checks: set[asyncio.Task[None]] = set()
        self._reader: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        self._reader = await asyncpg.connect(dsn)
        await self.conn.add_listener(COMMITTED_CHANNEL, self._heard)

    def _heard(self, conn: object, pid: int, channel: str, payload: str) -> None:
        ms, instance = payload.split()
        self.seen.append((int(ms), instance))
        if not self._checks:  # one count at a time; the next NOTIFY starts the next one
            task = asyncio.create_task(self._count(int(ms)))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    async def _count(self, ms: int) -> None:
        assert self._reader is not None
        at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        rows = await self._reader.fetch(_COUNT, at)
        self.counted.append((at, {r[0]: r[1] for r in rows}))

    async def close(self) -> None:
        if self._checks:
            await asyncio.wait(self._checks)
        await self.conn.remove_listener(COMMITTED_CHANNEL, self._heard)
        if self._reader is not None:
            await self._reader.close()


async def _check(db: asyncpg.Connection, watch: Watch) -> None:
    assert len(watch.counted) >= 10, "too few watermarks counted to prove much"
    marks = [ms for ms, _ in watch.seen]
    # Concurrent flushes may deliver a smaller (still true) value after a larger one: a reader
    # keeps the largest it heard. It must advance, though.
    assert max(marks[-5:]) > min(m for m in marks if m) + 1000
    assert len({instance for _, instance in watch.seen}) == 1
    for at, counts in watch.counted:
        now = {r[0]: r[1] for r in await db.fetch(_COUNT, at)}
        assert now == counts, f"rows received before the watermark {at} were committed after it"
    assert sum(watch.counted[-1][1].values()) > 100


async def test_watermark_covers_every_row_received_before_it(db, database_url, start_recorder):
    watch = Watch(await asyncpg.connect(database_url))
    await watch.start(database_url)
    try:
        async with (
            Simulator(SYMBOLS, seed=61, rate=2000, paused=True) as sim,
            start_recorder(sim) as running,
        ):
            await start_market(sim, running)
            await asyncio.sleep(4.0)
            await running.finish()
    finally:
        await watch.close()
        await watch.conn.close()
    await _check(db, watch)


async def test_watermark_waits_for_the_spool_after_an_outage(
    db, database_url, proxy, start_recorder
):
    watch = Watch(await asyncpg.connect(database_url))
    await watch.start(database_url)
    try:
        async with (
            Simulator(SYMBOLS, seed=67, rate=2000, paused=True) as sim,
            start_recorder(sim, DATABASE_URL=proxy.url(database_url)) as running,
        ):
            await start_market(sim, running)
            await asyncio.sleep(2.0)
            await proxy.cut()
            await asyncio.sleep(3.0)
            before_restore = len(watch.seen)
            await proxy.restore()
            await asyncio.sleep(4.0)
            spooled = running.recorder.writers["agg_trades"].stats.rows_spooled
            await running.finish()
    finally:
        await watch.close()
        await watch.conn.close()
    assert spooled > 0, "the outage spooled nothing: it proves nothing"
    assert len(watch.seen) > before_restore, "no watermark after the database came back"
    await _check(db, watch)
