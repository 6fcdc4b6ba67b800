"""Issue 23: ``bench/soak.py`` for 5 minutes, its own code (one "day" of faults: kill -9 twice,
one aimed at a backfill's commit, the database stopped 60 s, drops and a drop storm, depth gaps,
1 % malformed frames, a 429 storm, a 418 ban, slow REST, top:N churn, spot, rotating chunks,
retention). Against the simulator's ground truth: nothing lost undeclared, nothing stored twice,
every aggTrade hole repaired, RSS and file descriptors not growing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import report, run_soak
from tests.db_fixtures import Cluster

FAULTS = (
    "kill", "kill_at_backfill", "db_stop_60s", "drop_storm", "depth_gap", "ws_drop",
    "429_storm", "418_ban", "slow_rest", "malformed_frames", "universe_change",
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_five_minute_soak_loses_nothing_undeclared(cluster: Cluster, tmp_path: Path):
    result = await run_soak(5, cluster, tmp_path)
    text = report(result)
    print(text)  # shown when the test fails
    for fault in FAULTS:
        assert result.faults.get(fault, 0) >= 1, (fault, text)
    assert result.total("events") > 10_000, text
    for count in result.counts:
        assert count.events > 0, (count.stream, text)
        assert count.undeclared == 0, (count.stream, text)
        assert count.duplicated == 0, (count.stream, text)
    assert result.holes["holes"] >= 1 and result.holes["left"] == [], text
    assert result.recorder_crashes == [] and result.recorder_exit == 0, text
    assert result.worker_crashes == [], text  # a database stop is waited out, not a crash
    assert result.rss_end_mb <= result.rss_start_mb * 1.2, text
    assert result.fd_end <= result.fd_start + 5, text
    assert 0 < result.tasks_end <= result.tasks_start + 10, text  # (backfills come and go)
    assert result.notes == [], text  # every gap closed once the market stopped
