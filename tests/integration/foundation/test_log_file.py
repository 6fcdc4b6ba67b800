"""LOG_FILE: log lines appended to a file for those who run Flowline without compose or journald."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.logs import setup_logging
from settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = handlers, level


def test_log_file_is_optional_and_made_absolute():
    assert Settings.from_env({}).log_file is None
    relative = Settings.from_env({"LOG_FILE": "var/flowline.log"}).log_file
    assert relative is not None and relative.is_absolute() and relative.name == "flowline.log"


def test_lines_are_appended_to_the_file_and_follow_logrotate(tmp_path: Path, restore_logging):
    path = tmp_path / "flowline.log"
    path.write_text("kept\n")
    setup_logging("INFO", "text", path)
    logging.getLogger("collector").info("rows %d", 5)
    path.rename(tmp_path / "flowline.log.1")  # what logrotate does
    logging.getLogger("collector").info("after rotation")
    assert (tmp_path / "flowline.log.1").read_text().splitlines()[0] == "kept"
    assert "INFO collector: rows 5" in (tmp_path / "flowline.log.1").read_text()
    assert "after rotation" in path.read_text()


def test_a_log_file_that_cannot_be_opened_is_one_line(tmp_path: Path, restore_logging):
    with pytest.raises(SettingsError, match="LOG_FILE: cannot append to"):
        setup_logging("INFO", "text", tmp_path / "missing" / "flowline.log")


def test_record_with_a_bad_log_file_exits_2_with_one_line(tmp_path: Path):
    env = os.environ | {"LOG_FILE": str(tmp_path / "no" / "such" / "dir.log")}
    out = subprocess.run([sys.executable, "main.py", "record"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"error: LOG_FILE: cannot append to {tmp_path}/no/such/dir.log: No such file or directory"
    ]
