"""The image carries no secret and runs as nobody special; compose has no default passwords.

No Docker daemon is needed: the build context is computed with Docker's own .dockerignore rules
(tests/security/dockerignore.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.db_fixtures import ROOT
from tests.security.dockerignore import context, excluded, parse

SECRETS_AND_JUNK = [
    ".env", ".env.local", "collector/.env", "var/pg/pgpass", "var/pg/data/base/1/1259",
    "var/spool/agg_trades/00000000000000000001.rows", ".venv/bin/python", ".git/config",
    "reports/run.html", "collector/__pycache__/rows.cpython-311.pyc", ".pytest_cache/v/x",
    "deploy/tls/server.key",
]  # fmt: skip
NEEDED = [
    "main.py", "settings.py", "symbols.py", "logsafe.py", "requirements.txt", ".env.example",
    "collector/rows.py", "db/spool.py", "sql/001_extension.sql", "sql/tsl/001_compression.sql",
    "strategy/worker.py", "indicators/delta.py", "sim/server.py",
    "deploy/grafana/dashboards/flowline-recorder.json",
]  # fmt: skip


def test_the_build_context_leaves_out_env_data_venv_and_git(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text((ROOT / ".dockerignore").read_text())
    for name in SECRETS_AND_JUNK + NEEDED:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    sent = context(tmp_path, parse((ROOT / ".dockerignore").read_text()))
    assert sorted(sent) == sorted([".dockerignore", *NEEDED])


def test_every_tracked_source_file_still_reaches_the_image() -> None:
    patterns = parse((ROOT / ".dockerignore").read_text())
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    left_out = [f for f in tracked if excluded(f, patterns)]
    assert sorted(left_out) == [".ci/run", ".gitignore"]


def test_the_image_runs_as_an_unprivileged_user() -> None:
    lines = [line.split(None, 1) for line in (ROOT / "Dockerfile").read_text().splitlines()]
    steps = [(w[0].upper(), w[1] if len(w) > 1 else "") for w in lines if w and w[0][0] != "#"]
    kinds = [k for k, _ in steps]
    user = [arg.strip() for k, arg in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0", "0:0")
    last_user = len(kinds) - 1 - kinds[::-1].index("USER")
    assert "COPY" not in kinds[last_user:] and kinds.index("ENTRYPOINT") > last_user


def test_compose_has_no_default_passwords() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    grafana = compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert grafana.startswith("${GRAFANA_ADMIN_PASSWORD:?")
    defaults = re.findall(r"\$\{(\w*(?:PASSWORD|SECRET|KEY)\w*):?-", text)
    assert defaults == [], f"secrets with a default value: {defaults}"
