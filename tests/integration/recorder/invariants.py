"""What "nothing lost, nothing duplicated, every hole explained" means, checked against the
simulator's ground truth after a fault scenario."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import asyncpg

from collector.connection import StreamConnection
from sim.server import Simulator
from sim.truth import Truth
from tests.integration.recorder.conftest import Running, wait_until
from tests.integration.recorder.recorder_process import RecorderProcess

DEPTH_SPEED_MS = 100  # the recorder's default DEPTH_SPEED


async def assert_agg_trades_exact(db: asyncpg.Connection, truth: Truth, symbols: list[str]) -> int:
    """Per symbol, the stored aggTrade ids are the simulator's, each once. Returns the total."""
    total = 0
    for symbol in symbols:
        produced = [t["a"] for t in truth.agg_trades[symbol]]
        ids = [
            r["agg_trade_id"]
            for r in await db.fetch("SELECT agg_trade_id FROM agg_trades WHERE symbol = $1", symbol)
        ]
        assert len(produced) > 50, f"{symbol}: the scenario produced too few trades to prove much"
        assert len(ids) == len(set(ids)), f"{symbol}: duplicate agg_trade_ids"
        missing = sorted(set(produced) - set(ids))
        extra = sorted(set(ids) - set(produced))
        if missing:
            gaps = await db.fetch(
                "SELECT * FROM data_gaps WHERE stream = 'agg_trades' AND symbol = $1", symbol
            )
            raise AssertionError(
                f"{symbol}: {len(missing)} aggTrades missing, {_ranges(missing)[:10]};"
                f" recorded gaps: {[dict(g) for g in gaps]}"
            )
        assert not extra, f"{symbol}: {len(extra)} aggTrades the simulator never made: {extra[:10]}"
        total += len(ids)
    return total


def _ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


async def depth_gaps(db: asyncpg.Connection, symbol: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT first_id, last_id, status FROM data_gaps"
        " WHERE stream = 'depth_updates' AND symbol = $1",
        symbol,
    )


async def assert_depth_explained(db: asyncpg.Connection, truth: Truth, symbols: list[str]) -> int:
    """Every diff the simulator sent is stored, or lies inside a recorded (and resynced) gap;
    nothing is stored that the simulator did not send. Returns the number of depth gaps."""
    n_gaps = 0
    for symbol in symbols:
        sent = [d["u"] for d in truth.depth_events[symbol, DEPTH_SPEED_MS]]
        stored_list = [
            r["final_update_id"]
            for r in await db.fetch(
                "SELECT final_update_id FROM depth_updates WHERE symbol = $1", symbol
            )
        ]
        stored = set(stored_list)
        assert len(stored_list) == len(stored), f"{symbol}: duplicate depth diffs"
        assert stored <= set(sent), f"{symbol}: depth diffs the simulator never sent"
        gaps = await depth_gaps(db, symbol)
        assert all(g["status"] == "resynced" for g in gaps), [dict(g) for g in gaps]
        unexplained = [
            u
            for u in sent
            if u not in stored and not any(g["first_id"] <= u <= g["last_id"] for g in gaps)
        ]
        assert not unexplained, f"{symbol}: diffs lost outside any recorded gap: {unexplained[:10]}"
        n_gaps += len(gaps)
    return n_gaps


async def assert_trade_gaps_repaired(db: asyncpg.Connection) -> int:
    """Every aggTrade hole was backfilled completely. Returns how many there were."""
    gaps = await db.fetch("SELECT status, details FROM data_gaps WHERE stream = 'agg_trades'")
    assert all(g["status"] == "repaired" for g in gaps), [dict(g) for g in gaps]
    return len(gaps)


async def event_kinds(db: asyncpg.Connection) -> Counter[str]:
    return Counter(r["kind"] for r in await db.fetch("SELECT kind FROM recorder_events"))


async def no_open_gaps(db: asyncpg.Connection) -> bool:
    return not await db.fetchval("SELECT count(*) FROM data_gaps WHERE status = 'open'")


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.2
) -> None:
    """Poll an async condition (a database query) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def subscribed(conns: list[StreamConnection]) -> None:
    """Every connection open and its subscriptions registered: from here on the simulator's
    ground truth holds nothing the recorder could not have seen."""
    await wait_until(lambda: all(c.connects >= 1 for c in conns), 20, "the recorder to connect")
    await asyncio.sleep(0.3)  # the simulator registers the subscriptions right after the handshake


async def start_market(sim: Simulator, running: Running) -> None:
    """Let a paused simulator run once the recorder is subscribed."""
    conns = running.recorder.connections
    await subscribed(conns)
    sim.resume()
    await wait_until(lambda: all(c.last_frame for c in conns), 15, "frames on every connection")


async def settle(sim: Simulator, running: Running, db: asyncpg.Connection) -> None:
    """The point checked: the recorder receives again, the market stops, every hole is closed
    (backfilled or resynced) and the recorder has stopped and flushed."""
    since = time.monotonic()
    conns = running.recorder.connections
    await wait_until(lambda: all(c.last_frame > since for c in conns), 60, "live connections")
    # A trailing hole shows only when the symbol's next trade arrives: wait for one per symbol.
    seen = running.recorder.handler.last_seen
    trades = [f"aggTrade:{symbol}" for symbol in running.recorder.symbols]
    await wait_until(lambda: all(seen.get(k, 0) > since for k in trades), 60, "a trade per symbol")
    sim.pause()
    await asyncio.sleep(0.5)  # the last frames, and the gap rows they opened, reach the database
    await eventually(lambda: no_open_gaps(db), 60, "every gap repaired or resynced")
    await running.finish()


async def start_market_for_process(sim: Simulator) -> None:
    """``start_market`` for a recorder in its own process: wait for both routes to connect."""
    await wait_until(lambda: len(sim.hub.open) >= 2, 20, "the recorder to connect")
    await asyncio.sleep(0.3)
    sim.resume()


async def settle_process(sim: Simulator, recorder: RecorderProcess, db: asyncpg.Connection) -> None:
    """``settle`` for a recorder in its own process; it must then exit cleanly on SIGTERM."""
    await wait_until(lambda: len(sim.hub.open) >= 2, 60, "the recorder to reconnect")
    await asyncio.sleep(3.0)  # it receives again: any hole left is now visible to it
    sim.pause()
    await asyncio.sleep(0.5)
    await eventually(lambda: no_open_gaps(db), 90, "every gap repaired or resynced")
    exit_code = await recorder.stop()
    assert exit_code == 0, recorder.output()[-3000:]
