"""A bounded on-disk spool for batches the database could not take.

One file per batch under ``SPOOL_DIR/<table>/``, named by a monotonic sequence so replay is in
order; files survive a restart. Each file is written to a temporary name, fsynced, then renamed,
so a crash leaves either a whole batch or nothing (fsync policy: every batch file, plus the
directory after the rename). Files are pickles of row tuples that only this process writes.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Sequence
from pathlib import Path


class SpoolFull(Exception):
    """Writing the batch would exceed SPOOL_MAX_BYTES."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        for partial in directory.glob("*/*.tmp"):  # a crash mid-write: the batch never counted
            partial.unlink(missing_ok=True)
        self._bytes = sum(p.stat().st_size for p in directory.glob("*/*.batch"))
        self._seq = time.time_ns()

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def write(self, table: str, rows: Sequence[tuple]) -> Path:
        data = pickle.dumps(list(rows), protocol=pickle.HIGHEST_PROTOCOL)
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool at {self._bytes} bytes, cap {self.max_bytes}")
        folder = self.directory / table
        folder.mkdir(exist_ok=True)
        self._seq = max(self._seq + 1, time.time_ns())
        final = folder / f"{self._seq:020d}.batch"
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(folder)
        self._bytes += len(data)
        return final

    def pending(self, table: str) -> list[Path]:
        return sorted((self.directory / table).glob("*.batch"))

    def read(self, path: Path) -> list[tuple]:
        with open(path, "rb") as f:
            return pickle.load(f)

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        self._bytes = max(0, self._bytes - size)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
