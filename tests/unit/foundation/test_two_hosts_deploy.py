"""deploy/two-hosts/ (issue 21): each host's .env is valid Flowline settings that follow the
primary and share the symbols; the pg_auto_failover units run pg_autoctl as postgres."""

from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dotenv import dotenv_values

from db.connect import follows_primary
from settings import Settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "two-hosts"
ENVS = sorted(DEPLOY.glob("host-*.env"))
UNITS = sorted(DEPLOY.glob("*.service"))


@pytest.mark.parametrize("path", ENVS, ids=[p.name for p in ENVS])
def test_each_host_env_follows_the_primary_and_shares_the_symbols(path: Path):
    env = {k: v for k, v in dotenv_values(path).items() if v is not None}
    settings = Settings.from_env(env, dotenv=False)
    url = settings.database_url
    assert follows_primary(url) and "target_session_attrs=read-write" in url
    assert urlsplit(url).password is None, "the password belongs in the passfile"
    assert settings.leases and settings.lease_members == len(ENVS)


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_pg_autoctl_runs_as_postgres(path: Path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(path.read_text())
    service = parser["Service"]
    assert service["User"] == "postgres" and service["ExecStart"] == "/usr/bin/pg_autoctl run"
    assert service["Environment"].startswith("PGDATA=/var/lib/postgresql/")
    assert service["Restart"] == "always"


def test_two_hosts_and_a_monitor():
    assert [p.name for p in ENVS] == ["host-a.env", "host-b.env"]
    assert {p.name for p in UNITS} == {"pgautofailover.service", "pgautofailover-monitor.service"}
