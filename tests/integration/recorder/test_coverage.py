"""The coverage view answers "can I trust this day?" for a recorded session, and a backtest over
a range with an unrepaired hole says so, with the range."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from sim.server import Simulator
from tests.integration.recorder.invariants import settle, start_market

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
ROOT = Path(__file__).resolve().parents[3]


async def _drop_until_a_trade_hole(sim: Simulator, db) -> None:
    """A reconnect can beat the next trade (no id is then missed), so cut again until one is."""
    for _ in range(5):
        sim.faults.drop_connections(route="market")
        for _ in range(30):
            await asyncio.sleep(0.1)
            if await db.fetchval("SELECT count(*) FROM data_gaps WHERE stream = 'agg_trades'"):
                return
    raise AssertionError("five drops made no aggTrade hole")


async def test_coverage_counts_rows_and_holes_and_backtest_warns(
    db, database_url: str, start_recorder, tmp_path: Path
):
    sim = Simulator(SYMBOLS, seed=31, rate=300, record_truth=True, paused=True)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        await asyncio.sleep(1.0)
        await _drop_until_a_trade_hole(sim, db)  # an aggTrade hole, backfilled
        sim.faults.skip_depth_ids("ETHUSDT", 2)  # a depth break: resynced, diffs missing
        await asyncio.sleep(3.0)
        await settle(sim, running, db)
    truth = sim.truth
    assert truth is not None

    rows = {
        (r["symbol"], r["stream"]): r
        for r in await db.fetch("SELECT * FROM coverage WHERE market = 'usdm'")
    }
    day = dt.datetime.fromtimestamp(truth.agg_trades["BTCUSDT"][0]["T"] / 1000, dt.UTC)
    for symbol in SYMBOLS:
        trades = rows[symbol, "agg_trades"]
        stored = await db.fetchval("SELECT count(*) FROM agg_trades WHERE symbol = $1", symbol)
        assert trades["events"] == stored == len(truth.agg_trades[symbol])
        assert trades["day"] == day.replace(hour=0, minute=0, second=0, microsecond=0)
        assert trades["first_event"] == dt.datetime.fromtimestamp(
            truth.agg_trades[symbol][0]["T"] / 1000, dt.UTC
        )
        assert trades["holes_repaired"] == trades["holes_declared"]
        assert trades["unrepaired"] == dt.timedelta(0)
    declared = await db.fetchval("SELECT count(*) FROM data_gaps WHERE stream = 'agg_trades'")
    assert declared >= 1, "the drop made no aggTrade hole"
    assert sum(rows[s, "agg_trades"]["holes_declared"] for s in SYMBOLS) == declared
    depth = rows["ETHUSDT", "depth_updates"]
    assert depth["holes_declared"] >= 1 and depth["holes_repaired"] == 0
    assert dt.timedelta(0) < depth["unrepaired"] < dt.timedelta(seconds=5)

    hole = await db.fetchrow(
        "SELECT start_time, end_time FROM coverage_holes WHERE symbol = 'ETHUSDT'"
        " AND stream = 'depth_updates' ORDER BY start_time LIMIT 1"
    )
    env = os.environ | {"DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "backtest", "--symbols", "ETHUSDT", "--out", str(tmp_path),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (out + err).decode()[-2000:]
    text = err.decode()
    assert "unrepaired hole" in text, text
    assert f"ETHUSDT depth_updates {hole['start_time'].isoformat()}" in text, text
    assert "BTCUSDT" not in text  # another symbol's holes are not this backtest's
