"""The embedded cluster lets in only the app role over TCP (password from the 0600 passfile) and
its superuser over the 0700 socket; a cluster made by the earlier localdb.sh (trust for everyone,
`flowline` a superuser) is converted by the next `localdb.sh start` and keeps every row."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from collector.rows import COLUMNS, AggTradeRow
from db.migrate import migrate
from tests.db_fixtures import ROOT, localdb
from tests.security.other_user import IS_ROOT, psql_as_nobody, run_as_nobody

BIN = Path("/usr/lib/postgresql/15/bin")
T0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
ROWS = 1500  # over three days: several chunks


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else list(cmd)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def old_cluster() -> Iterator[tuple[Path, int]]:
    """A running cluster built the way scripts/localdb.sh built it before issue 22."""
    (ROOT / "var").mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="oldpg-", dir=ROOT / "var"))
    port, data, sock = _free_port(), home / "data", home / "run"
    sock.mkdir()
    home.chmod(0o755)
    if IS_ROOT:
        shutil.chown(home, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    try:
        subprocess.run(
            _as_postgres(str(BIN / "initdb"), "-D", str(data), "-U", "flowline", "--auth=trust",
                         "--encoding=UTF8", "--locale=C.UTF-8"),
            check=True, capture_output=True,
        )  # fmt: skip
        conf = (
            f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
            f"unix_socket_directories = '{sock}'\nshared_preload_libraries = 'timescaledb'\n"
            "timescaledb.telemetry_level = off\nshared_buffers = 32MB\n"
        )
        with open(data / "postgresql.conf", "a") as f:
            f.write(conf)
        subprocess.run(
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-l", str(home / "postgres.log"),
                         "-w", "start"),
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            _as_postgres(str(BIN / "createdb"), "-h", str(sock), "-p", str(port), "-U", "flowline",
                         "flowline"),
            check=True, capture_output=True,
        )  # fmt: skip
        yield home, port
    finally:
        subprocess.run(
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)
        Path(f"{home}.lock").unlink(missing_ok=True)


def _trades() -> list[AggTradeRow]:
    step = dt.timedelta(days=3) / ROWS
    return [
        AggTradeRow(T0 + i * step, "BTCUSDT", "futures", i, 50_000.0 + i, 0.01, None, i, i,
                    i % 2 == 0, T0 + i * step, T0 + i * step, None)
        for i in range(ROWS)
    ]  # fmt: skip


async def _fill_the_old_way(port: int) -> None:
    conn = await asyncpg.connect(f"postgresql://flowline@127.0.0.1:{port}/flowline")
    try:
        await migrate(conn)
        await conn.copy_records_to_table(
            "agg_trades", records=_trades(), columns=COLUMNS["agg_trades"]
        )
    finally:
        await conn.close()


def _stop(home: Path) -> None:
    cmd = _as_postgres(str(BIN / "pg_ctl"), "-D", str(home / "data"), "-w", "stop")
    subprocess.run(cmd, check=True, capture_output=True)


def _start_new(home: Path, port: int) -> dict[str, str]:
    env = os.environ | {"FLOWLINE_PGHOME": str(home), "FLOWLINE_DB_PORT": str(port)}
    subprocess.run([str(ROOT / "scripts" / "localdb.sh"), "start"], check=True, env=env)
    return env


def _url(env: dict[str, str], which: str) -> str:
    script = str(ROOT / "scripts" / "localdb.sh")
    return subprocess.run([script, which], env=env, check=True, capture_output=True, text=True)\
        .stdout.strip()  # fmt: skip


@pytest.mark.parametrize("server", ["stopped", "running"])
async def test_a_cluster_from_before_keeps_its_rows_and_loses_its_holes(server: str) -> None:
    with old_cluster() as (home, port):
        await _fill_the_old_way(port)
        if server == "stopped":  # `make run` on a machine that was rebooted
            _stop(home)
        env = _start_new(home, port)
        app = await asyncpg.connect(_url(env, "url"))
        try:
            trades = _trades()
            got = await app.fetchrow(
                "SELECT count(*), sum(agg_trade_id), sum(price) FROM agg_trades"
            )
            assert tuple(got) == (ROWS, sum(t.agg_trade_id for t in trades),
                                  sum(t.price for t in trades))  # fmt: skip
            assert await app.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")\
                is False  # fmt: skip
            # still the owner of what it writes: new rows, later migrations, chunk drops
            await app.execute(
                "INSERT INTO agg_trades SELECT * FROM agg_trades WHERE agg_trade_id = 0 "
                "ON CONFLICT DO NOTHING"
            )
            await migrate(app)
            dropped = await app.fetch(
                "SELECT drop_chunks('agg_trades', $1::timestamptz)", T0 + dt.timedelta(days=1)
            )
            assert dropped, "retention could not drop the chunks written before the conversion"
            await app.execute(
                "CREATE TABLE later (time timestamptz NOT NULL);"
                "SELECT create_hypertable('later', 'time'); DROP TABLE later"
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute("COPY agg_trades (symbol) FROM PROGRAM 'id'")
        finally:
            await app.close()
        await _assert_locked(home, port, env)


async def _assert_locked(home: Path, port: int, env: dict[str, str]) -> None:
    admin = await asyncpg.connect(_url(env, "admin-url"))
    try:
        rules = await admin.fetch(
            "SELECT type, database, user_name, auth_method FROM pg_hba_file_rules"
        )
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE oid = 10")
    finally:
        await admin.close()
    assert rules, "pg_hba.conf has no rules"
    for r in rules:
        assert r["auth_method"] in ("peer", "scram-sha-256"), dict(r)
        assert "replication" not in r["database"], dict(r)
        if r["type"] == "host":
            assert r["user_name"] == ["flowline"], dict(r)
    assert stat.S_IMODE((home / "run").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "pgpass").stat().st_mode) == 0o600
    for user, database in (("flowline", "flowline"), ("postgres", "postgres")):
        tcp = psql_as_nobody("127.0.0.1", port, user, database)
        assert tcp.returncode != 0, tcp.stdout
        assert "password" in tcp.stderr or "no pg_hba.conf entry" in tcp.stderr, tcp.stderr
    if IS_ROOT:  # the same user as the server passes the socket by design
        unix = psql_as_nobody(str(home / "run"), port, "postgres", "postgres")
        assert unix.returncode != 0 and "Permission denied" in unix.stderr, unix.stderr
        read = run_as_nobody(["cat", str(home / "pgpass")])
        assert read.returncode != 0 and "Permission denied" in read.stderr


async def test_the_embedded_cluster_lets_only_the_app_role_in_over_tcp() -> None:
    localdb("start")
    port = int(os.environ.get("FLOWLINE_DB_PORT", "54329"))
    home = ROOT / "var" / "pg"
    env = os.environ | {"FLOWLINE_DB_PORT": str(port)}
    await _assert_locked(home, port, env)
    app = await asyncpg.connect(localdb("url"))
    try:
        assert await app.fetchval("SELECT current_user") == "flowline"
        assert (
            await app.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = 'flowline'") is False
        )
    finally:
        await app.close()
