"""ARCHIVE_AFTER / ARCHIVE_DIR and the archive command's bad input; how a read range is cut
into archived and database pieces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from db.archive_read import Archived, CatalogFile
from settings import ARCHIVE_TABLES, ROOT, Settings, SettingsError


def test_archive_after_is_one_duration_for_every_table_or_per_table():
    assert Settings.from_env({}, dotenv=False).archive_after == {}
    every = Settings.from_env({"ARCHIVE_AFTER": "7d"}, dotenv=False)
    assert every.archive_after == dict.fromkeys(ARCHIVE_TABLES, 7 * 86400)
    some = Settings.from_env(
        {"ARCHIVE_AFTER": "agg_trades=7d, depth_updates=3d", "ARCHIVE_DIR": "/data/archive"},
        dotenv=False,
    )
    assert some.archive_after == {"agg_trades": 7 * 86400, "depth_updates": 3 * 86400}
    assert some.archive_dir == Path("/data/archive")


@pytest.mark.parametrize("value", ["7 days", "recorder_events=7d", "agg_trades=0d", "trades=1d"])
def test_bad_archive_after_names_the_variable(value):
    with pytest.raises(SettingsError, match="ARCHIVE_AFTER"):
        Settings.from_env({"ARCHIVE_AFTER": value}, dotenv=False)


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["run", "--older-than", "soon"], "--older-than"),
        (["run", "--table", "trades"], "--table"),
        (["restore", "--table", "agg_trades", "--start", "yesterday", "--end", "2026-01-02"],
         "--start"),
    ],
)  # fmt: skip
def test_bad_archive_arguments_exit_2_with_one_line(args, names):
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "archive", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and names in done.stderr, done.stderr


def test_a_read_range_is_cut_at_the_archived_ranges():
    def f(start_ms: int, end_ms: int) -> CatalogFile:
        return CatalogFile("x", "usdm", "BTCUSDT", start_ms * 1000, end_ms * 1000, 0.0)

    archive = Archived({("agg_trades", "BTCUSDT"): [f(100, 200), f(200, 300), f(400, 500)]})
    assert archive.pieces("agg_trades", "BTCUSDT", 50, 450) == [
        (50, 100, False), (100, 200, True), (200, 300, True), (300, 400, False), (400, 450, True)
    ]  # fmt: skip
    assert archive.pieces("agg_trades", "ETHUSDT", 50, 450) == [(50, 450, False)]
    assert archive.pieces("agg_trades", "BTCUSDT", 120, 180) == [(120, 180, True)]
    assert archive.covers("agg_trades", "BTCUSDT", 450)
    assert not archive.covers("agg_trades", "BTCUSDT", 300)
