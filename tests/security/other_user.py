"""Running a command as another local user (``nobody``), the attacker of issue 22.

As root (CI) the command really runs as ``nobody``. Without root no other user is at hand: the
command then runs as this user without the passfile, which is what another user would lack.
"""

from __future__ import annotations

import os
import shutil
import subprocess

PSQL = "/usr/lib/postgresql/15/bin/psql"
IS_ROOT = os.geteuid() == 0
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def run_as_nobody(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PGPASSFILE": "/dev/null", "PGCONNECT_TIMEOUT": "5"}
    if IS_ROOT:
        cmd = [RUNUSER, "-u", "nobody", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=30)


def psql_as_nobody(host: str, port: int, user: str, database: str) -> subprocess.CompletedProcess:
    """``SELECT 1`` through psql, never prompting for a password."""
    return run_as_nobody(
        [
            PSQL,
            "-X",
            "-w",
            "-h",
            host,
            "-p",
            str(port),
            "-U",
            user,
            "-d",
            database,
            "-c",
            "SELECT 1",
        ]
    )
