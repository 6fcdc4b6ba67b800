"""A throw-away pg_auto_failover formation on loopback ports, for bench/failover.py and its test.

A monitor, a primary with TimescaleDB preloaded and a synchronous standby (Debian's
postgresql-15-auto-failover; scripts/install_pgautofailover.sh), each `pg_autoctl run` in a
process group of its own under one directory. pg_autoctl refuses to run as root, so as root
every pg_autoctl command runs as the `postgres` system user (as scripts/localdb.sh does).

Access: PostgreSQL listens on 127.0.0.1 only; pg_autoctl's own entries (monitor, replication)
and the superuser are `trust` on loopback, as pg_autoctl sets them up for `--auth trust`; the
app role `flowline` logs in with a generated password kept in a 0600 passfile the URL names,
as with the embedded database. The monitor's health checks are shortened (seconds, not the
default ~30 s) so a failover fits a benchmark; see docs/operations.md for production values.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import asyncpg

PG_MAJOR = os.environ.get("PG_MAJOR", "15")
PG_BIN = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
PG_AUTOCTL = shutil.which("pg_autoctl") or "/usr/bin/pg_autoctl"
DB_NAME = DB_USER = "flowline"

# The monitor decides within seconds (defaults: 5 s checks, 20 s unhealthy, 30 s demote wait).
MONITOR_CONF = """
shared_buffers = 32MB
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 3000
"""
# After pg_autoctl's include line, so these win; the standby's pg_basebackup copies them.
# track_commit_timestamp: the benchmark dates the first commit on the new primary by it.
NODE_CONF = """
shared_preload_libraries = 'pg_stat_statements,timescaledb'
timescaledb.telemetry_level = off
shared_buffers = 128MB
max_connections = 100
wal_keep_size = '512MB'
track_commit_timestamp = on
"""


class FormationError(RuntimeError):
    """The formation could not be set up; the message is meant for a person."""


def available() -> str | None:
    """Why the formation cannot run here, or None when it can."""
    if not Path(PG_AUTOCTL).exists():
        return "pg_autoctl is not installed (scripts/install_pgautofailover.sh)"
    control = Path(f"/usr/share/postgresql/{PG_MAJOR}/extension")
    for ext in ("pgautofailover", "timescaledb"):
        if not (control / f"{ext}.control").exists():
            return f"the {ext} extension is not installed for PostgreSQL {PG_MAJOR}"
    if os.geteuid() == 0 and not _has_user("postgres"):
        return "running as root needs the 'postgres' system user"
    return None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Formation:
    """Monitor + node1 (the first primary) + node2 (its synchronous standby)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.monitor_port, *self.node_ports = free_ports(3)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.passfile = base / "pgpass"
        self._as_root = os.geteuid() == 0

    # -- addresses ---------------------------------------------------------------------------
    def pgdata(self, name: str) -> Path:
        return self.base / name

    @property
    def monitor_url(self) -> str:
        return f"postgresql://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover"

    def admin_url(self, port: int, db: str = DB_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{db}"

    @property
    def url(self) -> str:
        """The multi-host URL the recorder and the worker use: it follows the primary."""
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.node_ports)
        return (
            f"postgresql://{DB_USER}@{hosts}/{DB_NAME}"
            f"?target_session_attrs=read-write&passfile={quote(str(self.passfile))}"
        )

    # -- running pg_autoctl ------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        xdg = {k: str(self.base / "xdg" / k.lower()) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")}
        return {"PATH": f"{PG_BIN}:/usr/bin:/bin", "HOME": str(self.base), "LANG": "C.UTF-8"} | xdg

    def _owner(self) -> dict[str, object]:
        return (
            {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_root else {}
        )

    def autoctl(self, *args: str, timeout: float = 120) -> str:
        cmd = [PG_AUTOCTL, *args]
        try:
            out = subprocess.run(
                cmd, env=self._env(), capture_output=True, text=True, timeout=timeout,
                cwd=self.base, check=False, **self._owner(),
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise FormationError(f"pg_autoctl {args[0]} {args[1]} timed out") from exc
        if out.returncode != 0:
            tail = "\n".join((out.stdout + out.stderr).splitlines()[-8:])
            raise FormationError(f"pg_autoctl {' '.join(args[:2])} failed:\n{tail}")
        return out.stdout

    def _spawn(self, name: str) -> None:
        log = (self.base / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [PG_AUTOCTL, "run", "--pgdata", str(self.pgdata(name))],
            env=self._env(), cwd=self.base, stdout=log, stderr=log,
            start_new_session=True, **self._owner(),
        )  # fmt: skip
        log.close()

    def _append(self, path: Path, text: str) -> None:
        with path.open("a") as f:
            f.write(f"\n# --- bench/pgaf.py ---{text}")

    # -- set-up ------------------------------------------------------------------------------
    async def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o700)
        if self._as_root:
            shutil.chown(self.base, "postgres", "postgres")
        await asyncio.to_thread(self._create_monitor)
        await (await self._wait_connect(self.monitor_url, 60)).close()
        await asyncio.to_thread(self._create_node, "node1", self.node_ports[0])
        await self.wait_states({"node1": ("single",)}, 90)
        await self._set_up_app_role()
        await asyncio.to_thread(self._create_node, "node2", self.node_ports[1])
        await self.wait_states({"node1": ("primary",), "node2": ("secondary",)}, 180)

    def _create_monitor(self) -> None:
        self.autoctl(
            "create", "monitor", "--pgdata", str(self.pgdata("monitor")),
            "--pgport", str(self.monitor_port), "--listen", "127.0.0.1", "--hostname", "127.0.0.1",
            "--auth", "trust", "--no-ssl", "--pgctl", str(PG_BIN / "pg_ctl"),
        )  # fmt: skip
        self._append(self.pgdata("monitor") / "postgresql.conf", MONITOR_CONF)
        self._spawn("monitor")

    def _create_node(self, name: str, port: int) -> None:
        self.autoctl(
            "create", "postgres", "--pgdata", str(self.pgdata(name)), "--name", name,
            "--pgport", str(port), "--listen", "127.0.0.1", "--hostname", "127.0.0.1",
            "--dbname", DB_NAME, "--monitor", self.monitor_url, "--auth", "trust", "--no-ssl",
            "--pgctl", str(PG_BIN / "pg_ctl"), timeout=300,
        )  # fmt: skip
        if name == "node1":  # the standby copies the primary's configuration and access rules
            self._append(self.pgdata(name) / "postgresql.conf", NODE_CONF)
            hba = self.pgdata(name) / "pg_hba.conf"
            rule = f"host {DB_NAME} {DB_USER} 127.0.0.1/32 scram-sha-256\n"
            hba.write_text(rule + hba.read_text())  # before the trust lines: first match wins
        self._spawn(name)

    async def _set_up_app_role(self) -> None:
        password = secrets.token_hex(24)
        fd = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"127.0.0.1:*:{DB_NAME}:{DB_USER}:{password}\n")
        port = self.node_ports[0]
        conn = await self._wait_connect(self.admin_url(port, "postgres"), 60)
        try:
            await conn.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{password}'")
            await conn.execute("CREATE ROLE flowline_grafana NOLOGIN")
            await conn.execute(f"ALTER DATABASE {DB_NAME} OWNER TO {DB_USER}")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.admin_url(port))
        try:  # the extension needs a superuser; db init finds it there
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            await conn.execute(f"GRANT ALL ON SCHEMA public TO {DB_USER}")
        finally:
            await conn.close()

    async def _wait_connect(self, url: str, within: float) -> asyncpg.Connection:
        deadline = time.monotonic() + within
        while True:
            try:
                return await asyncpg.connect(url, timeout=5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if time.monotonic() > deadline:
                    raise FormationError(f"cannot connect to {url}") from None
                await asyncio.sleep(0.3)

    async def states(self) -> dict[str, tuple[str, str]]:
        """nodename -> (reported state, goal state), from the monitor."""
        conn = await asyncpg.connect(self.monitor_url, timeout=5)
        try:
            rows = await conn.fetch(
                "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node"
            )
        finally:
            await conn.close()
        return {r["nodename"]: (r["reportedstate"], r["goalstate"]) for r in rows}

    async def wait_states(self, want: dict[str, tuple[str, ...]], within: float) -> None:
        deadline = time.monotonic() + within
        seen: dict[str, tuple[str, str]] = {}
        while time.monotonic() < deadline:
            seen = await self.states()
            if all(seen.get(n, ("", ""))[0] in ok for n, ok in want.items()):
                return
            await asyncio.sleep(0.2)
        raise FormationError(f"the formation did not reach {want} in {within:.0f} s: {seen}")

    # -- failure and tear-down ---------------------------------------------------------------
    def kill(self, name: str) -> None:
        """`kill -9` of a node: its pg_autoctl (whole process group) and its postmaster."""
        proc = self.procs.pop(name)
        pid_file = self.pgdata(name) / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        _signal_group(proc.pid, signal.SIGKILL)
        if postmaster is not None:
            _signal(postmaster, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        """Stop every node that still runs and remove the directory."""
        for name, proc in list(self.procs.items()):
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(10)
            self.procs.pop(name)
        for name in ("monitor", "node1", "node2"):  # postmasters left by a killed pg_autoctl
            pid_file = self.pgdata(name) / "postmaster.pid"
            if pid_file.exists():
                _signal(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
