"""The disk spool runs no code on load: typed msgpack rows with a checksum, a 0700 folder of the
recorder's own, and the pickles of old spools loaded only as rows, only when nobody else could
have written them."""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from collector.rows import AggTradeRow, DepthUpdateRow, RecorderEventRow
from db.spool import MAGIC, Spool, SpoolError
from tests.db_fixtures import ROOT
from tests.security.other_user import IS_ROOT

T = dt.datetime(2026, 12, 6, 7, 30, 1, 123456, tzinfo=dt.UTC)
ROWS = {
    "agg_trades": [AggTradeRow(T, "BTCUSDT", "futures", 9, 97_000.1, 0.003, None, 11, 12, True, T,
                               T, '{"x":1}')],
    "depth_updates": [DepthUpdateRow(T, "ETHUSDT", "spot", None, 1, 2, None, [3000.5, 2999.25],
                                     [1.0, 0.1], [], [], T, None)],
    "recorder_events": [RecorderEventRow(T, uuid.uuid4(), "gap", "BTCUSDT", ref=uuid.uuid4(),
                                         details='{"why":"test"}')],
}  # fmt: skip


class Evil:
    """A pickle that runs a command when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_rows_come_back_with_their_types_from_a_checksummed_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", 10**8)
    for table, rows in ROWS.items():
        path = spool.write(table, rows)
        assert path.read_bytes().startswith(MAGIC)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        back = spool.read(path)
        assert back == [tuple(r) for r in rows]
        assert [type(v) for v in back[0]] == [type(v) for v in rows[0]]
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700


def test_an_altered_file_is_refused_not_replayed(tmp_path: Path) -> None:
    # (the table writer then sets it aside as .corrupt and declares a gap: test_writer_supervision)
    spool = Spool(tmp_path / "spool", 10**8)
    path = spool.write("agg_trades", ROWS["agg_trades"])
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum mismatch"):
        spool.read(path)


def test_an_old_spool_is_converted_and_a_hostile_pickle_never_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "spool" / "agg_trades"
    folder.mkdir(parents=True, mode=0o755)
    ours = folder / f"{1:020d}.batch"
    ours.write_bytes(pickle.dumps(list(ROWS["agg_trades"]), protocol=pickle.HIGHEST_PROTOCOL))
    marker = tmp_path / "pwned"
    hostile = folder / f"{2:020d}.batch"
    hostile.write_bytes(pickle.dumps([Evil(marker)]))
    events = tmp_path / "spool" / "recorder_events"
    events.mkdir(mode=0o755)
    (events / f"{3:020d}.batch").write_bytes(pickle.dumps(list(ROWS["recorder_events"])))
    spool = Spool(tmp_path / "spool", 10**8)
    assert not marker.exists()
    assert "posix.system is not a row type" in caplog.text
    [converted] = spool.pending("agg_trades")
    assert spool.read(converted) == [tuple(ROWS["agg_trades"][0])]
    assert spool.read(spool.pending("recorder_events")[0]) == [tuple(ROWS["recorder_events"][0])]
    assert hostile.exists() and not ours.exists()
    assert spool.bytes_used == sum(p.stat().st_size for p in folder.parent.glob("*/*.rows"))


def test_old_pickles_someone_else_could_have_written_are_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "spool" / "agg_trades"
    folder.mkdir(parents=True)
    planted = folder / f"{1:020d}.batch"
    planted.write_bytes(pickle.dumps(list(ROWS["agg_trades"])))
    if IS_ROOT:
        shutil.chown(planted, "nobody")
    else:
        planted.chmod(0o666)
    spool = Spool(tmp_path / "spool", 10**8)
    assert spool.pending("agg_trades") == [] and planted.exists()
    lines = [r.getMessage() for r in caplog.records if "old-format" in r.getMessage()]
    assert len(lines) == 1 and "chown" in lines[0]


def test_a_spool_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    if not IS_ROOT:  # no other user to hand it to: a folder we cannot use at all
        folder.chmod(0o500)
        folder = folder / "sub"
    else:
        shutil.chown(folder, "nobody")
    with pytest.raises(SpoolError, match=r"^SPOOL_DIR "):
        Spool(folder, 10**8)


def test_the_recorder_stops_with_one_line_on_an_unsafe_spool_folder(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    if IS_ROOT:
        shutil.chown(folder, "nobody")
    else:
        folder.chmod(0o500)
        folder = folder / "sub"
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SPOOL_DIR": str(folder),
        "BINANCE_REST_URL": "http://127.0.0.1:9",
        "BINANCE_WS_URL": "ws://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "main.py", "record"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2  # a setting to change, as every start-up error
    assert done.stderr.startswith("error: SPOOL_DIR ") and done.stderr.count("\n") == 1, done.stderr


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="db.spool")
