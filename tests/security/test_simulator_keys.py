"""The simulator takes its API keys from a file or the environment, so `ps` never shows them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from strategy.binance.client import BinanceClient
from strategy.binance.errors import AuthError
from tests.db_fixtures import ROOT

KEY, SECRET = "simkey" + "A" * 58, "simsecret" + "B" * 55


def _cmdline(pid: int) -> str:
    """What `ps` shows of the process: its whole command line."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def _signed_call(url: str, key: str, secret: str) -> object:
    async with BinanceClient(url, key, secret) as client:
        return await client.request("GET", "/fapi/v1/openOrders")


async def test_keys_from_a_file_work_and_stay_out_of_the_process_list(tmp_path: Path) -> None:
    keys = tmp_path / "sim-keys"
    keys.write_text(f"{KEY}:{SECRET}\n")
    keys.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "sim", "--port", "0", "--api-keys-file", str(keys),
        "--log-level", "WARNING",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env=os.environ | {"SIM_API_KEYS": ""},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        http_url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        cmdline = _cmdline(proc.pid)
        assert SECRET not in cmdline and KEY not in cmdline
        assert await _signed_call(http_url, KEY, SECRET) == []
        try:
            await _signed_call(http_url, KEY, "wrong" + SECRET[5:])
        except AuthError as refused:
            assert refused.code == -1022  # the signature is checked with the file's secret
        else:
            raise AssertionError("a wrong secret was accepted")
    finally:
        proc.terminate()
        await proc.wait()
