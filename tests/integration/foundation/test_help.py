"""Every command's --help lists its options and the environment variables it reads."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

import environment
import main
from db.cli import format_health
from db.status import Health

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "settings.py", *ROOT.glob("strategy/**/*.py"), *ROOT.glob("sim/*.py")]


def help_text(*args: str) -> str:
    out = subprocess.run([sys.executable, "main.py", *args, "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("command", sorted(main.COMMANDS))
def test_help_lists_the_options_and_the_environment_of_each_command(command: str):
    text = help_text(command)
    assert text.startswith("usage: ") and "-h, --help" in text
    assert "environment (also read from ./.env" in text
    for name in environment.COMMANDS[command]:
        assert re.search(rf"^  {name} ", text, re.M), f"{command} --help does not name {name}"


def test_every_variable_of_env_example_is_in_some_help_and_read_somewhere():
    documented = set(
        re.findall(r"^# ([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    in_help = set().union(*environment.COMMANDS.values())
    assert documented == in_help | set(environment.DOCKER_COMPOSE)
    assert set(environment.VARIABLES) == documented
    code = "\n".join(path.read_text() for path in SOURCES)
    unread = {name for name in in_help if f'"{name}"' not in code}
    assert unread == set(), f"named in --help, read nowhere: {unread}"


def test_status_is_the_short_health_check_not_db_status():
    assert "usage: main.py status" in help_text("status")
    assert "usage: main.py db" in help_text("db")
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    report = Health(
        newest={"agg_trades": now - dt.timedelta(seconds=3), "book_top": None},
        open_holes=2,
        workers={"default": now - dt.timedelta(hours=5)},
    )
    lines = format_health(report, now).splitlines()
    assert lines[1].split() == ["agg_trades", "2026-11-20", "11:59:57", "3s"]
    assert lines[2].split() == ["book_top", "no", "rows"]
    assert lines[3].startswith("open holes: 2")
    assert lines[4] == "strategy worker default: bars done up to 2026-11-20 07:00:00 (5h ago)"
