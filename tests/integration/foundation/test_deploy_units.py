"""The systemd units of deploy/systemd/ start commands that exist, from the checkout they name."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[3]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
CHECKOUT = "/opt/flowline"  # where the units expect the checkout


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_each_unit_runs_a_flowline_command_of_its_checkout(path: Path):
    service = unit(path)["Service"]
    assert service["User"] == "flowline" and service["WorkingDirectory"] == CHECKOUT
    for key in ("ExecStartPre", "ExecStart", "ExecStop"):
        if key not in service:
            continue
        argv = shlex.split(service[key])
        assert argv[0].startswith(CHECKOUT + "/"), argv
        local = ROOT / argv[0].removeprefix(CHECKOUT + "/")
        if argv[0].endswith("/python"):  # the virtualenv `make deps` builds
            assert argv[0] == f"{CHECKOUT}/.venv/bin/python" and argv[1] == "main.py"
            assert argv[2] in main.COMMANDS, argv
        else:
            assert local.exists(), argv
    if service.get("Type", "simple") == "simple":  # long-running: restarted, but not on exit 2
        assert service["Restart"] == "always" and service["RestartPreventExitStatus"] == "2"
        assert service["KillSignal"] == "SIGTERM"


def test_there_are_units_for_the_recorder_the_worker_and_the_embedded_database():
    assert {p.name for p in UNITS} == {
        "flowline-recorder.service",
        "flowline-strategy.service",
        "flowline-db.service",
    }
