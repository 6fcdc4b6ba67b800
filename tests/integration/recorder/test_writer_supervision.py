"""A writer meeting something it does not expect is loud, counted and goes on (issue 15, case 7)."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.integration.recorder.conftest import wait_until
from tests.integration.recorder.invariants import assert_agg_trades_exact, settle, start_market
from tests.sim_fixtures import make_simulator

SYMBOL = "BTCUSDT"


async def test_a_corrupt_spool_file_does_not_stop_the_table_writer(db, start_recorder, tmp_path):
    sim = make_simulator(symbols=[SYMBOL], seed=51, rate=300)
    async with sim, start_recorder(sim) as running:
        await start_market(sim, running)
        writer = running.recorder.writers["agg_trades"]
        await wait_until(lambda: writer.stats.rows_written > 0, 15, "rows written")
        # a damaged batch file (a disk fault) shows up in the table's spool
        folder = tmp_path / "spool" / "agg_trades"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "00000000000000000001.rows").write_bytes(b"FLSPOOL1 damaged on disk")
        await asyncio.sleep(0.5)  # the writer meets it at its next flush
        written = writer.stats.rows_written
        await wait_until(
            lambda: writer.stats.rows_written > written + 100, 20, "rows written again"
        )
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{running.recorder.metrics_port}/metrics"
            async with http.get(url) as resp:
                metrics_text = await resp.text()
        await settle(sim, running, db)
    assert (folder / "00000000000000000001.corrupt").exists()
    assert not (folder / "00000000000000000001.rows").exists()
    await assert_agg_trades_exact(db, sim.truth, [SYMBOL])  # no trade lost to the fault
    gap = await db.fetchrow(
        "SELECT status, details FROM data_gaps WHERE stream = 'agg_trades'"
        " AND details ->> 'reason' = 'spool file corrupt'"
    )
    assert gap is not None and gap["status"] == "unrecoverable"
    assert 'flowline_writer_errors_total{table="agg_trades"}' in metrics_text
