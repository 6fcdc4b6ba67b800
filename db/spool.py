"""A bounded on-disk spool for batches the database could not take.

One file per batch under ``SPOOL_DIR/<table>/``, named by a monotonic sequence so replay is in
order; files survive a restart. Each file is written to a temporary name, fsynced, then renamed,
so a crash leaves either a whole batch or nothing (fsync policy: every batch file, plus the
directory after the rename).

Format (``*.rows``): ``FLSPOOL1``, the SHA-256 of the body, then the body: the rows as msgpack
(timestamps as msgpack Timestamps, UUIDs as an extension type). Reading it runs no code, and a file
that fails its checksum is set aside as ``*.corrupt`` (logged) instead of being replayed. The
folder is 0700 and must belong to the recorder's user.

Spools from before (pickles, ``*.batch``) are converted once at start with an unpickler that only
accepts the row types, and only when the file and its folders belong to this user and nobody else
may write them; others are left alone with one warning saying what to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import pickle
import stat
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack

from settings import SettingsError

log = logging.getLogger(__name__)

MAGIC = b"FLSPOOL1"
_DIGEST = 32
_UUID_EXT = 1
SUFFIX = ".rows"
OLD_SUFFIX = ".batch"  # pickles, written before issue 22


class SpoolFull(Exception):
    """Writing the batch would exceed SPOOL_MAX_BYTES."""


class SpoolError(SettingsError):
    """SPOOL_DIR cannot be used safely; the message names it and says why."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        _own_folder(directory)
        for partial in directory.glob("*/*.tmp"):  # a crash mid-write: the batch never counted
            partial.unlink(missing_ok=True)
        self._seq = time.time_ns()
        _convert_old(self)
        self._bytes = sum(p.stat().st_size for p in directory.glob(f"*/*{SUFFIX}"))

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def write(self, table: str, rows: Sequence[tuple]) -> Path:
        data = encode(rows)
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool at {self._bytes} bytes, cap {self.max_bytes}")
        folder = self.directory / table
        folder.mkdir(mode=0o700, exist_ok=True)
        self._seq = max(self._seq + 1, time.time_ns())
        final = folder / f"{self._seq:020d}{SUFFIX}"
        _write_atomically(final, data)
        self._bytes += len(data)
        return final

    def pending(self, table: str) -> list[Path]:
        return sorted((self.directory / table).glob(f"*{SUFFIX}"))

    def read(self, path: Path) -> list[tuple]:
        """The batch's rows; ValueError for a damaged file (its writer sets it aside as
        ``*.corrupt`` and declares the rows it held as a gap)."""
        return decode(path.read_bytes())

    def remove(self, path: Path) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # set aside by read()
            return
        path.unlink()
        self._bytes = max(0, self._bytes - size)


def encode(rows: Sequence[tuple]) -> bytes:
    body = msgpack.packb(list(rows), datetime=True, default=_pack_other)
    return MAGIC + hashlib.sha256(body).digest() + body


def decode(data: bytes) -> list[tuple]:
    """Rows back from ``encode``; ValueError when the file is not one or its checksum fails."""
    if not data.startswith(MAGIC):
        raise ValueError("not a spool file")
    digest, body = data[len(MAGIC) : len(MAGIC) + _DIGEST], data[len(MAGIC) + _DIGEST :]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("checksum mismatch (truncated or altered)")
    try:
        rows = msgpack.unpackb(body, timestamp=3, ext_hook=_unpack_other, strict_map_key=False)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise ValueError(f"unreadable rows ({exc})") from None
    return [tuple(row) for row in rows]


def _pack_other(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return msgpack.ExtType(_UUID_EXT, value.bytes)
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _unpack_other(code: int, data: bytes) -> Any:
    if code == _UUID_EXT:
        return uuid.UUID(bytes=data)
    raise ValueError(f"unknown extension type {code}")


def _own_folder(directory: Path) -> None:
    """SPOOL_DIR exists, belongs to this user and is 0700: whoever can write it feeds the
    database (and, with the old pickles, ran code as the recorder)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise SpoolError(f"SPOOL_DIR {directory} cannot be created: {exc.strerror}") from None
    if info.st_uid != os.geteuid():
        raise SpoolError(
            f"SPOOL_DIR {directory} belongs to uid {info.st_uid}, not to this user "
            f"(uid {os.geteuid()}): use a folder of this user's, or chown it"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        directory.chmod(0o700)
    for folder in directory.iterdir():
        if folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.geteuid():
            folder.chmod(0o700)


# What the old spool's pickles may name: row tuples hold plain values, datetimes and UUIDs only.
_PICKLED_TYPES = {
    ("datetime", "datetime"): dt.datetime,
    ("datetime", "timezone"): dt.timezone,
    ("datetime", "timedelta"): dt.timedelta,
    ("uuid", "UUID"): uuid.UUID,
    ("uuid", "SafeUUID"): uuid.SafeUUID,
}


class _Row(tuple):
    """Stands in for collector.rows' NamedTuples (db/ does not import collector/): a pickled row
    comes back as the plain tuple the writer uses, as rows from the new format do."""

    def __new__(cls, *fields: Any) -> tuple:  # type: ignore[misc]
        return tuple(fields)


class _RowUnpickler(pickle.Unpickler):
    """Loads the old spool's pickles; any other class (os.system, ...) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "collector.rows" and name.endswith("Row") and name.isidentifier():
            return _Row
        try:
            return _PICKLED_TYPES[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not a row type") from None


def _convert_old(spool: Spool) -> None:
    old = sorted(spool.directory.glob(f"*/*{OLD_SUFFIX}"))
    refused = [p for p in old if any(_not_only_ours(x) for x in (p, p.parent))]
    converted = 0
    for path in old:
        if path in refused:
            continue
        try:
            with open(path, "rb") as f:
                rows = _RowUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
            log.error("spool: %s is not a batch of rows, left alone: %s", path, exc)
            continue
        _write_atomically(path.with_suffix(SUFFIX), encode(rows))
        path.unlink()
        converted += 1
    if converted:
        log.warning("spool: converted %d batch file(s) from the old pickle format", converted)
    if refused:
        log.warning(
            "spool: %d old-format (pickle) batch file(s) under %s not loaded: they or their "
            "folder belong to another user or others may write them; if you trust them, chown "
            "them to this user and chmod 600 (folders 700) to have them converted on the next "
            "start, else delete them",
            len(refused),
            spool.directory,
        )


def _not_only_ours(path: Path) -> bool:
    """Another user owns it or may write it (or it is a symlink): its content is not ours."""
    info = path.lstat()
    return info.st_uid != os.geteuid() or bool(info.st_mode & 0o022) or stat.S_ISLNK(info.st_mode)


def _write_atomically(final: Path, data: bytes) -> None:
    tmp = final.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
