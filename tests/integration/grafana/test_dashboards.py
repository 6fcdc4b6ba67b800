"""Grafana's provisioning and dashboards, checked without a Grafana binary: every file parses
and has what Grafana needs, every data source a panel names is provisioned, and every SQL query
(panels, annotations, template variables) runs against a recorded session -- expanded as
Grafana expands it, as Grafana's read-only role -- and returns rows with the columns its panel
uses. The PromQL panels of the strategy worker select metrics the worker exports."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import strategy.metrics  # noqa: F401  (registers the worker's metrics)
from db.cli import grafana_login
from tests.db_fixtures import Cluster, with_database
from tests.integration.grafana.macros import render
from tests.integration.recorder.test_dashboard import family_of, promql_metric_names

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
ROLE = "flowline_grafana"
PG_TYPES = {"grafana-postgresql-datasource", "postgres"}


@dataclass(frozen=True)
class Query:
    where: str  # dashboard: panel title (for the test id and messages)
    sql: str
    format: str  # time_series | table
    columns: frozenset[str]  # what the panel reads by name


def load(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes())


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def used_columns(panel: dict[str, Any], fmt: str) -> set[str]:
    """Names the panel reads: its byName overrides, table column order, candlestick fields,
    bar chart x field, and the time column of a time series."""
    names = {
        o["matcher"]["options"]
        for o in panel.get("fieldConfig", {}).get("overrides", [])
        if o["matcher"]["id"] == "byName"
    }
    for t in panel.get("transformations", []):
        if t["id"] == "organize":
            names |= set(t["options"].get("indexByName", {}))
    options = panel.get("options", {})
    names |= set(options.get("fields", {}).values())
    if "xField" in options:
        names.add(options["xField"])
    if fmt == "time_series":
        names.add("time")
    return names


def sql_queries(path: Path) -> Iterator[Query]:
    dashboard = load(path)
    title = dashboard["title"]
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "rawSql" in target:
                fmt = target["format"]
                yield Query(f"{title}: {panel['title']}", target["rawSql"], fmt,
                            frozenset(used_columns(panel, fmt)))  # fmt: skip
    for note in dashboard["annotations"]["list"]:
        if "target" in note:
            cols = frozenset({"time", "text", "tags"})
            sql = note["target"]["rawSql"]
            yield Query(f"{title}: annotation {note['name']}", sql, "table", cols)
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            yield Query(f"{title}: variable {var['name']}", var["query"], "table", frozenset())


QUERIES = [q for path in DASHBOARDS for q in sql_queries(path)]


def provisioned_datasources() -> list[dict[str, Any]]:
    sources = []
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.yml")):
        sources += yaml.safe_load(path.read_text())["datasources"]
    return sources


def referenced_uids(node: Any) -> Iterator[str]:
    """The uid of every ``datasource`` object anywhere in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                yield value["uid"]
            else:
                yield from referenced_uids(value)
    elif isinstance(node, list):
        for item in node:
            yield from referenced_uids(item)


def test_provisioning_and_dashboards_validate():
    sources = provisioned_datasources()
    for source in sources:
        assert {"name", "type", "uid", "access", "url"} <= set(source), source
    uids = {s["uid"] for s in sources} | {"-- Grafana --"}  # the built-in annotation source
    assert len(uids) == len(sources) + 1, "data source uids are unique"
    (pg,) = [s for s in sources if s["type"] in PG_TYPES]
    assert pg["user"] == ROLE and pg["jsonData"]["timescaledb"] is True
    assert pg["secureJsonData"]["password"] == "$GRAFANA_DB_PASSWORD"  # from the environment
    providers_file = GRAFANA / "provisioning" / "dashboards" / "flowline.yml"
    providers = yaml.safe_load(providers_file.read_text())
    assert all({"name", "type", "options"} <= set(p) for p in providers["providers"])

    titles, dashboard_uids = set(), set()
    for path in DASHBOARDS:
        dashboard = load(path)
        assert {"uid", "title", "panels", "schemaVersion", "templating", "time"} <= set(dashboard)
        titles.add(dashboard["title"])
        dashboard_uids.add(dashboard["uid"])
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in panels(dashboard):
            assert {"type", "title", "gridPos"} <= set(panel), panel.get("title")
            assert panel["type"] == "row" or panel["targets"], panel["title"]
        unknown = set(referenced_uids(dashboard)) - uids
        assert not unknown, f"{path.name} names data sources nobody provisions: {unknown}"
    assert len(titles) == len(dashboard_uids) == len(DASHBOARDS) >= 3
    assert {"Flowline market", "Flowline strategy"} <= titles


def test_compose_passes_the_grafana_password_from_the_environment_only():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("grafana", "migrate"):
        value = services[name]["environment"]["GRAFANA_DB_PASSWORD"]
        assert value.startswith("${GRAFANA_DB_PASSWORD:?"), (name, value)


@dataclass(frozen=True)
class Range:
    start: dt.datetime
    end: dt.datetime
    symbol: str


async def _panel_range(url: str) -> Range:
    """From the first trade to the middle of the last position that lasted a while, so the
    panels of open positions have one and every other panel has history before it."""
    conn = await asyncpg.connect(url)
    try:
        start = await conn.fetchval("SELECT min(time) FROM agg_trades")
        row = await conn.fetchrow(
            "SELECT symbol, entry_time + (exit_time - entry_time) / 2 AS middle FROM positions"
            " WHERE exit_time - entry_time >= INTERVAL '2 seconds' ORDER BY entry_time DESC LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None, "the recording has no position that lasted 2 s"
    return Range(start, row["middle"], row["symbol"])


@pytest.fixture(scope="module")
def panel_range(recorded_url: str) -> Range:
    return asyncio.run(_panel_range(recorded_url))


@pytest.fixture(scope="module")
def grafana_url(cluster: Cluster, recorded_url: str) -> str:
    """A superuser's URL to the recording, so queries can run as Grafana's role (SET ROLE);
    with FLOWLINE_TEST_DATABASE_URL, that server's one role."""
    return with_database(cluster.admin, urlsplit(recorded_url).path.lstrip("/"))


@pytest.fixture(scope="module")
def reader(cluster: Cluster, grafana_url: str) -> str | None:
    """Grafana's role, which the embedded cluster always has (scripts/localdb.sh); None on a
    server whose role may not create it, where the queries run as that role instead."""

    async def exists() -> bool:
        conn = await asyncpg.connect(grafana_url)
        try:
            return bool(await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", ROLE))
        finally:
            await conn.close()

    found = asyncio.run(exists())
    assert found or cluster.app_role is None, f"no role {ROLE} on the embedded cluster"
    return ROLE if found else None


async def _run_as(url: str, role: str | None, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        if role is not None:
            await conn.execute(f"SET ROLE {role}")  # a constant, not input
        async with conn.transaction(readonly=True):
            return await conn.fetch(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize("query", QUERIES, ids=[q.where for q in QUERIES])
def test_every_panel_query_returns_rows_with_the_columns_its_panel_uses(
    query: Query, panel_range: Range, grafana_url: str, reader: str | None
):
    variables = {"symbol": panel_range.symbol}
    sql = render(query.sql, panel_range.start, panel_range.end, "1m", variables)
    rows = asyncio.run(_run_as(grafana_url, reader, sql))
    assert rows, f"{query.where}: no rows\n{sql}"
    columns = set(rows[0].keys())
    assert query.columns <= columns, f"{query.where}: missing {query.columns - columns}"
    if query.format == "time_series":
        for row in rows:
            assert isinstance(row["time"], dt.datetime), query.where
        numbers = [c for c in columns if c not in ("time", "metric")]
        assert numbers and all(
            isinstance(row[c], int | float) or row[c] is None for row in rows for c in numbers
        ), f"{query.where}: a time series needs numbers"
        assert any(row[c] is not None for row in rows for c in numbers), query.where


def test_strategy_worker_panels_select_metrics_the_worker_exports():
    dashboard = load(GRAFANA / "dashboards" / "flowline-strategy.json")
    exprs = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    assert len(exprs) >= 6
    exposition = generate_latest(REGISTRY).decode()
    types = {f.name: f.type for f in text_string_to_metric_families(exposition)}
    for expr in exprs:
        names = promql_metric_names(expr)
        assert names, expr
        for name in names:
            assert name.startswith("flowline_strategy_"), name
            assert family_of(name, types) is not None, f"{name} is not exported by the worker"


async def test_grafanas_role_may_read_every_table_and_view_and_write_nothing(
    grafana_url: str, reader: str | None
):
    if reader is None:
        pytest.skip(f"no role {ROLE} on this server (its role may not create roles)")
    conn = await asyncpg.connect(grafana_url)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, has_table_privilege($1, c.oid, 'SELECT') AS reads,"
            " has_table_privilege($1, c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') AS writes"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
            " AND c.relkind IN ('r', 'p', 'v', 'm')",
            ROLE,
        )
        login = await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", ROLE)
    finally:
        await conn.close()
    assert {"candles_1m", "signals", "positions", "indicators"} <= {r["relname"] for r in rows}
    assert [r["relname"] for r in rows if not r["reads"]] == []
    assert [r["relname"] for r in rows if r["writes"]] == []
    assert login is False, "no login until db init is given GRAFANA_DB_PASSWORD"


async def test_db_init_gives_grafanas_role_a_login_only_with_a_password(
    recorded_url: str, grafana_url: str, reader: str | None
):
    if reader is None:
        pytest.skip(f"no role {ROLE} on this server (its role may not create roles)")
    app = await asyncpg.connect(recorded_url)
    try:
        assert "set GRAFANA_DB_PASSWORD" in await grafana_login(app, "")
        if urlsplit(recorded_url).username != urlsplit(grafana_url).username:
            assert (await grafana_login(app, "secret")).startswith("warning:")  # no CREATEROLE
    finally:
        await app.close()
    admin = await asyncpg.connect(grafana_url)
    try:
        tx = admin.transaction()
        await tx.start()  # ALTER ROLE is transactional: the cluster keeps its role as it was
        try:
            line = await grafana_login(admin, "it's a secret")
            login = await admin.fetchval(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", ROLE
            )
        finally:
            await tx.rollback()
    finally:
        await admin.close()
    assert "may log in" in line and "secret" not in line
    assert login is True
