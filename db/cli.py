"""``python main.py db init|status`` and ``python main.py status``.

``db init`` applies the schema (sql/) and the retention policies; ``db status`` is the full
inventory (rows, sizes, chunks, compression, archive, newest row per symbol); ``status`` is the
short health check: how old each table's newest row is, open holes, strategy workers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

import asyncpg

from db.connect import DatabaseUnavailable, connect
from db.migrate import MigrationError, MigrationReport, migrate
from db.retention import apply_policies
from db.status import DatabaseStatus, Health, database_status, health
from settings import Settings, SettingsError, redact_url


def parse_args(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["health"]:  # `python main.py status`
        parser = argparse.ArgumentParser(
            prog="main.py status",
            description="Short health check: the age of each table's newest row, the holes "
            "still open and each strategy worker's watermark (full inventory: db status).",
        )
        parser.add_argument("action", choices=["health"], help=argparse.SUPPRESS)
        return parser.parse_args(argv)
    parser = argparse.ArgumentParser(prog="main.py db", description="Database tools.")
    parser.add_argument(
        "action",
        choices=["init", "status"],
        help="init: apply the schema (sql/), retention policies and Grafana's role login; "
        "status: rows, sizes, chunks, compression, archive and newest row per table and symbol",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if args.action == "init":
            return asyncio.run(_init(settings))
        if args.action == "health":
            return asyncio.run(_health(settings))
        return asyncio.run(_status(settings))
    except (DatabaseUnavailable, MigrationError) as exc:
        hint = ""
        if isinstance(exc, DatabaseUnavailable) and settings.database_is_embedded:
            hint = " (DATABASE_URL is unset, so this is the embedded database: `make db` starts it)"
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 1


async def _init(settings: Settings) -> int:
    conn = await connect(settings.database_url)
    try:
        report = await migrate(conn)
        policies = []
        if report.license == "timescale" and settings.retention:
            policies = await apply_policies(conn, settings.retention)
        grafana = await grafana_login(conn, settings.grafana_db_password)
    finally:
        await conn.close()
    print(format_init_report(report, policies, settings))
    print(grafana)
    return 0


async def grafana_login(conn: asyncpg.Connection, password: str) -> str:
    """Lets Grafana's read-only role (sql/020) log in with GRAFANA_DB_PASSWORD; one line that
    says what was done (never the password)."""
    role = "flowline_grafana"
    if not await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role):
        return f"grafana: no role {role} (this DATABASE_URL role may not create roles)"
    if not password:
        return f"grafana: read-only role {role} (set GRAFANA_DB_PASSWORD to let it log in)"
    # %L quotes the literal on the server: ALTER ROLE takes no bind parameters
    statement = await conn.fetchval(
        "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", role, password
    )
    try:
        await conn.execute(statement)
    except asyncpg.InsufficientPrivilegeError:
        return f"warning: GRAFANA_DB_PASSWORD is set but this role may not alter {role}"
    return f"grafana: read-only role {role} may log in (password from GRAFANA_DB_PASSWORD)"


def format_init_report(report: MigrationReport, policies: list[str], settings: Settings) -> str:
    lines = [f"database: {redact_url(settings.database_url)}"]
    if report.applied:
        lines.append(f"applied {len(report.applied)} migration(s): {', '.join(report.applied)}")
    else:
        lines.append(f"schema is up to date ({len(report.already)} migrations already applied)")
    for version in report.changed:
        lines.append(f"warning: {version} changed after it was applied; it is not re-run")
    if report.license == "timescale":
        lines.append(
            "TimescaleDB license: timescale (community): compression, continuous "
            "aggregates and retention policies are on"
        )
        lines.extend(f"retention policy: {p}" for p in policies)
    else:
        lines.append(
            f"TimescaleDB license: {report.license}: skipped {len(report.skipped_tsl)} community-"
            f"license file(s) ({', '.join(report.skipped_tsl) or 'none'}); candles_1m and "
            "liquidations_1m are plain views, no compression"
        )
        if settings.retention:
            lines.append(
                "retention: the recorder drops expired chunks hourly (drop_chunks) for "
                + ", ".join(settings.retention)
            )
        else:
            lines.append("retention: none configured (RETENTION=table=7d,...): data is kept")
    return "\n".join(lines)


async def _status(settings: Settings) -> int:
    conn = await connect(settings.database_url)
    try:
        status = await database_status(conn)
    finally:
        await conn.close()
    print(format_status(status, settings))
    return 0


async def _health(settings: Settings) -> int:
    conn = await connect(settings.database_url)
    try:
        report = await health(conn)
    finally:
        await conn.close()
    print(format_health(report, dt.datetime.now(dt.UTC)))
    return 0


def format_health(report: Health, now: dt.datetime) -> str:
    if not report.newest:
        return "no tables yet: run `python main.py db init`"
    lines = [f"{'table':<19}{'newest row (UTC)':<25}age"]
    for name, newest in report.newest.items():
        when = f"{newest:%Y-%m-%d %H:%M:%S}" if newest else "no rows"
        age = _age(now - newest) if newest else ""
        lines.append(f"{name:<19}{when:<25}{age}")
    lines.append(f"open holes: {report.open_holes} (SELECT * FROM data_gaps WHERE status = 'open')")
    for worker, processed in report.workers.items():
        lines.append(f"strategy worker {worker}: bars done up to {processed:%Y-%m-%d %H:%M:%S} "
                     f"({_age(now - processed)} ago)")  # fmt: skip
    return "\n".join(lines)


def _age(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_status(status: DatabaseStatus, settings: Settings) -> str:
    lines = [
        f"database: {redact_url(settings.database_url)}",
        f"timescaledb: {status.timescaledb_version or 'not installed'} "
        f"(license {status.license}), {status.migrations} migrations applied",
    ]
    if not status.tables:
        lines.append("no hypertables yet: run `python main.py db init`")
        return "\n".join(lines)
    lines.append(f"{'table':<19}{'rows':>13}{'size':>11}{'B/row':>8}{'chunks':>8}  compression")
    for t in status.tables:
        comp = f"on ({t.compressed_chunks} compressed)" if t.compression_enabled else "off"
        rows = f"{t.rows:,}" if t.rows_exact else f"~{t.rows:,}"
        lines.append(f"{t.name:<19}{rows:>13}{_size(t.total_bytes):>11}"
                     f"{_per_row(t.total_bytes, t.rows):>8}{t.chunks:>8}  {comp}")  # fmt: skip
    for name, n in status.plain_tables.items():
        lines.append(f"{name:<19}{n:>13,}")
    if status.archived:
        lines.append(f"archived (Parquet, {settings.archive_dir}):")
        for name, (n, size, files) in sorted(status.archived.items()):
            lines.append(f"  {name:<17}{n:>13,}{_size(size):>11}{_per_row(size, n):>8}"
                         f"{files:>8} files")  # fmt: skip
    if not any(t.newest for t in status.tables):
        lines.append("no rows yet")
        return "\n".join(lines)
    lines.append("newest row per symbol:")
    for t in status.tables:
        for symbol, newest in sorted(t.newest.items()):
            lines.append(f"  {t.name:<17}{symbol:<14}{newest:%Y-%m-%d %H:%M:%S.%f}"[:-3])
    return "\n".join(lines)


def _per_row(size: int, rows: int) -> str:
    return f"{size / rows:.1f}" if rows else "-"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
