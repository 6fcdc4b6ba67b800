"""`python main.py demo` runs simulator, recorder and strategy worker offline, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[3]


async def test_demo_records_and_computes_indicators_offline(strategy_db, tmp_path):
    env = os.environ | {
        "DATABASE_URL": strategy_db,
        "METRICS_PORT": "0",
        "STRATEGY_METRICS_PORT": "0",
        "SPOOL_DIR": str(tmp_path / "spool"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "demo", "--seconds", "20", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), 90)
    text = output.decode()
    assert proc.returncode == 0, text[-3000:]
    assert "FROM signals" in text and "(strategy worker)" in text
    conn = await asyncpg.connect(strategy_db)
    try:
        trades = await conn.fetchval("SELECT count(*) FROM agg_trades")
        bars = await conn.fetchval("SELECT count(*) FROM indicators WHERE book_valid")
        state = await conn.fetchval("SELECT count(*) FROM strategy_state")
    finally:
        await conn.close()
    assert trades > 100 and bars > 5 and state == 1, (trades, bars, state)
