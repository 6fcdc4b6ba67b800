"""Issue 21, the database fails over: a pg_auto_failover formation from Debian's packages
(monitor, TimescaleDB primary, synchronous standby, loopback ports), the recorder and the worker
on the multi-host URL, the primary killed mid-recording. Nothing lost, nothing twice, every depth
diff stored or declared, and they continue on the new primary (bench/failover.py, shortened,
with two recorders sharing the symbols through leases as in deploy/two-hosts/)."""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path

import pytest

from bench import failover
from bench.pgaf import available

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pg_auto_failover() -> None:
    """`make test` installs the packages; run alone, this installs them (root or sudo)."""
    if available() is None:
        return
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install_pgautofailover.sh")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    reason = available()
    if reason is not None:
        last = (out.stderr or out.stdout).strip().splitlines()[-1:] or [""]
        pytest.skip(f"pg_auto_failover cannot be installed here: {reason}; {last[0]}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_primary_killed_mid_recording_loses_nothing(pg_auto_failover, tmp_path):
    args = failover.parse_args(
        ["--before", "4", "--after", "4", "--recorders", "2", "--budget", "480"]
    )
    work = ROOT / "var" / "failover" / f"test-{tmp_path.name}"
    outcome = asyncio.run(failover.run(args, work))
    print(outcome.line())
    assert outcome.sync_standby.startswith("ANY 1 ("), "the standby was not synchronous"
    assert outcome.rows > 500, "too little recorded to prove anything"
    assert (outcome.lost, outcome.duplicated, outcome.undeclared) == (0, 0, 0), outcome.line()
    assert math.isfinite(outcome.recover_s), "nothing was committed on the new primary"
    assert outcome.worker_on_new_primary, "the worker did not commit on the new primary"
    assert not work.exists() and not Path(f"{work}-pg").exists(), "left its directories"
