"""REDUNDANCY (issue 21, item 2): 1 to 3 recorders per symbol; more than one means leases."""

import os
import subprocess
import sys

import pytest

from settings import ROOT, Settings


def settings(**env: str) -> Settings:
    return Settings.from_env(env, dotenv=False)


def test_redundancy_is_one_by_default_and_more_turns_leases_on():
    s = settings()
    assert (s.redundancy, s.leases) == (1, False)
    s = settings(REDUNDANCY="2")
    assert (s.redundancy, s.leases) == (2, True)


@pytest.mark.parametrize("value", ["0", "4", "two"])
def test_a_bad_redundancy_exits_2_with_one_line_naming_it(value):
    env = {**os.environ, "REDUNDANCY": value}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "record"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "REDUNDANCY" in done.stderr, done.stderr
