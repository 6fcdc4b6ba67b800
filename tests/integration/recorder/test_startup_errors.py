"""Start-up errors are one line naming the setting, exit code 2, no traceback (issue 15, 10)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.integration.recorder.conftest import recorder_env
from tests.integration.recorder.recorder_process import PYTHON, ROOT
from tests.sim_fixtures import make_simulator


async def _record(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "main.py",
        "record",
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


async def test_each_start_up_error_is_one_line_and_exit_2(database_url, tmp_path, busy_port):
    async with make_simulator(symbols=["BTCUSDT"]) as sim:
        base = recorder_env(database_url, sim, tmp_path / "spool")
        cases = {
            "METRICS_HOST:METRICS_PORT": {"METRICS_PORT": str(busy_port)},
            "METRICS_HOST": {"METRICS_HOST": "192.0.2.1"},  # an address not on this host
            "SPOOL_DIR": {"SPOOL_DIR": "/etc/hostname/spool"},
            "SYMBOLS: NOPEUSDT": {"SYMBOLS": "BTCUSDT,NOPEUSDT"},
            "OI_POLL_INTERVAL": {"OI_POLL_INTERVAL": "inf"},
        }
        for needle, env in cases.items():
            code, out = await _record(base | env)
            lines = [line for line in out.splitlines() if line.startswith("error:")]
            assert code == 2, (needle, out[-2000:])
            assert "Traceback" not in out and len(lines) == 1 and needle in lines[0], out[-2000:]
