"""Grafana's PostgreSQL data source macros and template variables, expanded as Grafana does
before a query reaches the database (pkg/tsdb/grafana-postgresql-datasource/macros.go, with
``timescaledb: true``), so the tests run each panel's SQL exactly as Grafana would send it."""

from __future__ import annotations

import datetime as dt
import re

_MACRO = re.compile(r"\$__(\w+)\(([^)]*)\)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def interval_seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip().strip("'\""))
    if not m:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render(
    sql: str, start: dt.datetime, end: dt.datetime, interval: str, variables: dict[str, str]
) -> str:
    """``sql`` with template variables (``$name``, ``${name}``; single values, quotes doubled as
    Grafana's SQL data sources do), ``$__interval`` and the time macros replaced."""
    values = {"__interval": interval, "__interval_ms": str(int(interval_seconds(interval) * 1000))}
    values |= {name: value.replace("'", "''") for name, value in variables.items()}
    for name in sorted(values, key=len, reverse=True):  # $__interval_ms before $__interval
        sql = sql.replace("${" + name + "}", values[name]).replace("$" + name, values[name])

    def macro(m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        if name == "time":
            return f'{args[0]} AS "time"'
        if name == "timeFilter":
            return f"{args[0]} BETWEEN '{_stamp(start)}' AND '{_stamp(end)}'"
        if name == "timeFrom":
            return f"'{_stamp(start)}'"
        if name == "timeTo":
            return f"'{_stamp(end)}'"
        if name in ("timeGroup", "timeGroupAlias"):
            bucket = f"time_bucket('{interval_seconds(args[1]):g}s',{args[0]})"
            return bucket + (' AS "time"' if name == "timeGroupAlias" else "")
        raise ValueError(f"macro $__{name} is not expanded by this test")

    sql = _MACRO.sub(macro, sql)
    if "$" in re.sub(r"\$(\w*)\$.*?\$\1\$", "", sql, flags=re.S):
        raise ValueError(f"unexpanded variable in: {sql}")
    return sql
