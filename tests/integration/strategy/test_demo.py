"""`python main.py demo` runs simulator, recorder and strategy worker offline, says what is going
on every 10 s, and stops cleanly with a summary; again and again on the same database."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[3]
STATUS = re.compile(
    r"^\[0:\d\d\] rows/s agg_trades [\d.,]+.* \| books in sync 2/2 \| gaps \d+ \| "
    r"signals \d+ \(\d+ accepted\) \| open positions \d+ \| PnL realized [+-][\d.,]+, open",
    re.MULTILINE,
)


async def run_demo(database_url: str, spool: Path, seconds: float) -> str:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "METRICS_PORT": "0",
        "STRATEGY_METRICS_PORT": "0",
        "SPOOL_DIR": str(spool),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "demo", "--seconds", str(seconds), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    text = output.decode()
    assert proc.returncode == 0, text[-3000:]
    return text


@pytest.mark.timeout(240)
async def test_demo_three_times_on_one_database(strategy_db, tmp_path):
    for run in range(3):
        started = datetime.now(UTC)
        text = await run_demo(strategy_db, tmp_path / "spool", 25)  # ready within 5 s
        assert "What to expect" in text and "0:30-1:30  BTCUSDT: a panic sell-off" in text, run
        assert len(STATUS.findall(text)) >= 2, text[-3000:]
        summary = text[text.index("Demo summary") :]
        assert "rows written: agg_trades" in summary and "FROM signals" in summary, summary
        assert "(strategy worker)" in summary
        assert "--config strategy/demo.toml --symbols BTCUSDT,ETHUSDT --start 20" in summary
        assert not re.search(r"\b1[6-9]\d{11}\b", text), "an epoch-ms time in the output"
    conn = await asyncpg.connect(strategy_db)
    try:
        trades = await conn.fetchval("SELECT count(*) FROM agg_trades")
        bars = await conn.fetchval("SELECT count(*) FROM indicators WHERE book_valid")
        state = await conn.fetchval("SELECT count(*) FROM strategy_state")
        # the last run continued the ids, so the worker kept its books: it saw the new diffs
        synced = await conn.fetch(
            "SELECT symbol, count(*) FILTER (WHERE book_valid) AS n FROM indicators "
            "WHERE time >= $1 GROUP BY symbol ORDER BY symbol",
            started,
        )
    finally:
        await conn.close()
    assert trades > 300 and bars > 15 and state == 1, (trades, bars, state)
    assert [(r["symbol"], r["n"] > 5) for r in synced] == [("BTCUSDT", True), ("ETHUSDT", True)]


@pytest.mark.timeout(120)
async def test_demo_records_both_venues_offline(strategy_db, tmp_path, monkeypatch):
    monkeypatch.setenv("VENUES", "binance,bybit")
    text = await run_demo(strategy_db, tmp_path / "spool", 25)
    assert "Demo summary" in text, text[-3000:]
    assert "books in sync 4/4" in text, text[-3000:]  # BTCUSDT and ETHUSDT on either venue
    conn = await asyncpg.connect(strategy_db)
    try:
        rows = {
            (r["venue"], r["table"]): r["n"]
            for table in ("agg_trades", "depth_updates", "depth_snapshots")
            for r in await conn.fetch(
                f"SELECT venue, $1::text AS table, count(*) AS n FROM {table} GROUP BY venue",
                table,
            )
        }
        gaps = await conn.fetch("SELECT DISTINCT venue FROM data_gaps")
    finally:
        await conn.close()
    for venue in ("binance", "bybit"):
        for table in ("agg_trades", "depth_updates", "depth_snapshots"):
            assert rows.get((venue, table), 0) > 0, (venue, table, rows)
    assert {g["venue"] for g in gaps} <= {"binance", "bybit"}  # data_gaps names each hole's venue
