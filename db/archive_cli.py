"""``python main.py archive run|list|restore``: the Parquet archive tier (db/archive.py)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time

import asyncpg

from db.archive import archive_tables
from db.archive_format import ArchiveError, datetime_to_us, set_codecs, table_layout
from db.archive_read import catalogued, restore_files
from db.connect import DatabaseUnavailable, connect
from settings import ARCHIVE_TABLES, Settings, SettingsError, parse_duration

DEFAULT_AFTER = "7d"  # `archive run` without --older-than and without ARCHIVE_AFTER
# Tables archived at a time: most of a chunk's time is one database backend's, so a second
# connection puts another core to work (1.1-1.3x on this loaded 2-core machine).
CONNECTIONS = 2


class _Usage(ValueError):
    pass


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.action == "run":
            plan = _plan(settings, args.table, args.older_than)
            return asyncio.run(_run(settings, plan))
        if args.action == "list":
            return asyncio.run(_list(settings))
        start, end = _when("--start", args.start), _when("--end", args.end)
        if args.table is None or start >= end:
            raise _Usage("archive restore needs --table and --start before --end")
        return asyncio.run(_restore(settings, _table(args.table), start, end))
    except (SettingsError, _Usage) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DatabaseUnavailable, ArchiveError, asyncpg.PostgresError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py archive", description="The Parquet archive tier")
    p.add_argument("action", choices=["run", "list", "restore"])
    p.add_argument("--table", help=f"one of {', '.join(ARCHIVE_TABLES)} (default: all)")
    p.add_argument("--older-than", help="run: archive chunks older than this (e.g. 7d, 12h)")
    p.add_argument("--start", help="restore: from this UTC time (ISO 8601, e.g. 2026-09-22T14:00)")
    p.add_argument("--end", help="restore: up to this UTC time (exclusive)")
    return p


def _table(name: str) -> str:
    if name not in ARCHIVE_TABLES:
        raise _Usage(f"--table must be one of {', '.join(ARCHIVE_TABLES)}, got {name!r}")
    return name


def _plan(settings: Settings, table: str | None, older_than: str | None) -> dict[str, float]:
    """table -> seconds: --older-than, else ARCHIVE_AFTER, else DEFAULT_AFTER."""
    tables = [_table(table)] if table else list(ARCHIVE_TABLES)
    if older_than is not None:
        now = older_than.strip() in ("0", "0s")  # everything whose chunk has ended
        seconds = 0.0 if now else parse_duration("--older-than", older_than)
        return dict.fromkeys(tables, seconds)
    if settings.archive_after:
        return {t: settings.archive_after[t] for t in tables if t in settings.archive_after}
    return dict.fromkeys(tables, parse_duration("archive", DEFAULT_AFTER))


def _when(option: str, text: str | None) -> dt.datetime:
    if not text:
        raise _Usage(f"archive restore needs {option} (ISO 8601, e.g. 2026-09-22T14:00)")
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _Usage(
            f"{option} must be an ISO 8601 time like 2026-09-22T14:00, got {text!r}"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


async def _run(settings: Settings, plan: dict[str, float]) -> int:
    now = dt.datetime.now(dt.UTC)
    cuts = {table: now - dt.timedelta(seconds=seconds) for table, seconds in plan.items()}
    conn = await connect(settings.database_url)
    more: list[asyncpg.Connection] = []
    try:
        for _ in range(min(len(cuts), CONNECTIONS) - 1):
            more.append(await connect(settings.database_url))
        report = await archive_tables(conn, settings.archive_dir, cuts, tuple(more))
    finally:
        for c in (*more, conn):
            await c.close()
    for table, r in report.by_table.items():
        print(f"{table}: {r.chunks} chunks before {cuts[table]:%Y-%m-%d %H:%M} -> {r.files} files, "
              f"{r.rows:,} rows, {_size(r.bytes)}{_per_row(r.bytes, r.rows)}")  # fmt: skip
    if not report.chunks:
        print("nothing to archive: no chunk has ended before the cut")
    elif report.seconds:
        print(f"archived {report.rows:,} rows in {report.seconds:.1f} s "
              f"({report.rows / report.seconds:,.0f} rows/s)")  # fmt: skip
    return 0


async def _list(settings: Settings) -> int:
    conn = await connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, market, symbol, count(*) AS files, min(day) AS first,"
            " max(day) AS last, sum(rows)::int8 AS rows, sum(bytes)::int8 AS bytes"
            " FROM archive_files GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
    finally:
        await conn.close()
    print(f"archive: {settings.archive_dir}")
    if not rows:
        print("nothing archived yet (python main.py archive run)")
        return 0
    print(f"{'table':<17}{'market':<7}{'symbol':<13}{'days':<24}{'files':>6}{'rows':>14}"
          f"{'size':>11}{'B/row':>8}")  # fmt: skip
    for r in rows:
        days = f"{r['first']} .. {r['last']}"
        print(f"{r['table_name']:<17}{r['market']:<7}{r['symbol']:<13}{days:<24}{r['files']:>6}"
              f"{r['rows']:>14,}{_size(r['bytes']):>11}{r['bytes'] / r['rows']:>8.1f}")  # fmt: skip
    total_rows, total_bytes = sum(r["rows"] for r in rows), sum(r["bytes"] for r in rows)
    print(f"total: {sum(r['files'] for r in rows)} files, {total_rows:,} rows, "
          f"{_size(total_bytes)}{_per_row(total_bytes, total_rows)}")  # fmt: skip
    return 0


async def _restore(settings: Settings, table: str, start: dt.datetime, end: dt.datetime) -> int:
    conn = await connect(settings.database_url)
    try:
        await set_codecs(conn)
        layout = await table_layout(conn, table)
        lo, hi = datetime_to_us(start), datetime_to_us(end)
        files = await catalogued(conn, table, lo, hi)
        began = time.perf_counter()
        inserted = await restore_files(conn, layout, files, lo, hi)
        seconds = time.perf_counter() - began
    finally:
        await conn.close()
    print(f"{table}: {inserted:,} rows restored from {len(files)} files in {seconds:.1f} s "
          "(rows already there skipped); the next `archive run` folds them back")  # fmt: skip
    return 0


def _per_row(size: int, rows: int) -> str:
    return f" ({size / rows:.1f} B/row)" if rows else ""


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
