"""The recorder as a real process (``python main.py record``): for ``kill -9`` and for RSS."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parents[3]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


class RecorderProcess:
    """Start, SIGKILL, restart and finally SIGTERM one recorder; output goes to ``log``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] = log.open("ab")  # every run appends; closed on exit

    async def start(self) -> None:
        assert self._proc is None, "already running"
        self._proc = await asyncio.create_subprocess_exec(
            PYTHON, "main.py", "record", cwd=ROOT, env=self.env, stdout=self._log, stderr=self._log
        )
        self.starts += 1

    async def kill(self) -> None:
        """``kill -9``: no signal handler, no final flush."""
        await self._end(signal.SIGKILL, 10)

    async def stop(self, within: float = 60) -> int:
        """SIGTERM and wait: the recorder flushes everything and exits; returns its exit code."""
        return await self._end(signal.SIGTERM, within)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def rss_bytes(self) -> int:
        assert self._proc is not None
        status = Path(f"/proc/{self._proc.pid}/status").read_text()
        kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kb) * 1024

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def _end(self, sig: int, within: float) -> int:
        proc, self._proc = self._proc, None
        assert proc is not None
        try:
            if proc.returncode is None:
                proc.send_signal(sig)
            return await asyncio.wait_for(proc.wait(), within)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def __aenter__(self) -> RecorderProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._proc is not None:
                await self.kill()
        finally:
            self._log.close()
