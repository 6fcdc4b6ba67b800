"""The Grafana dashboard and its docker-compose provisioning match what the recorder exports.

Every PromQL expression of deploy/grafana/dashboards/flowline-recorder.json is reduced to the metric
names it selects, and each must be a series of the live /metrics of a recorder that has been fed
by the simulator (with a depth gap, a 429 and a malformed frame, so the fault panels have data).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sim.server import Simulator
from tests.integration.recorder.conftest import wait_until

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "flowline-recorder.json"
SYMBOLS = ["SOLUSDT", "XRPUSDT"]  # not the other recorder tests' symbols: no id history to resume

# The series names each metric type puts in the exposition, by suffix (text format 0.0.4).
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
# Counters that stay without samples unless the database is down (spool) or a stream goes silent
# (watchdog); their families are still exposed, and the dashboard must show them when they move.
QUIET_FAMILIES = {"flowline_rows_spooled", "flowline_rows_dropped", "flowline_stale_streams"}

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_:][\w:]*")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "group_left",
    "group_right",
}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression: identifiers that are not functions,
    aggregations, keywords, label names (in ``{}`` and grouping clauses) or durations."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        is_call = text[match.end() :].lstrip().startswith("(")
        if not is_call and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def dashboard_exprs(node: Any) -> Iterator[str]:
    """Every ``expr`` of every target, including panels nested in collapsed rows."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_exprs(item)


def family_of(series: str, types: dict[str, str]) -> str | None:
    """The metric family a series name belongs to: a suffix is stripped only when the family
    without it exists and has that kind of series (``x_count`` of a gauge ``x_count`` stays)."""
    for family, kind in types.items():
        for suffix in SUFFIXES[kind]:
            if family + suffix == series:
                return family
    return None


def test_promql_metric_names_skip_functions_labels_ranges_and_strings():
    expr = (
        'histogram_quantile(0.99, sum by (le, table) (rate(flowline_a_bucket{table="x y"}'
        "[$__rate_interval]))) / on(table) group_left flowline_b offset 5m > bool 1e3"
    )
    assert promql_metric_names(expr) == {"flowline_a_bucket", "flowline_b"}
    assert promql_metric_names("sum without (kind) (increase(flowline_c_total[5m]))") == {
        "flowline_c_total"
    }


def test_family_of_strips_only_the_suffixes_of_the_family_type():
    types = {"flowline_rows": "counter", "flowline_lag": "histogram", "flowline_n_count": "gauge"}
    assert family_of("flowline_rows_total", types) == "flowline_rows"
    assert family_of("flowline_lag_bucket", types) == "flowline_lag"
    assert family_of("flowline_lag_count", types) == "flowline_lag"
    assert family_of("flowline_n_count", types) == "flowline_n_count"
    assert family_of("flowline_rows_bucket", types) is None
    assert family_of("flowline_lag", types) is None


async def _scrape(http: aiohttp.ClientSession, port: int) -> str:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


def _with_samples(text: str) -> tuple[dict[str, str], set[str]]:
    """Family name → type, and the families that have at least one sample."""
    types: dict[str, str] = {}
    sampled: set[str] = set()
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        if family.samples:
            sampled.add(family.name)
    return types, sampled


async def _scrape_until_sampled(port: int, series: set[str], within: float) -> str:
    """Scrape until the families of ``series`` have samples (but the quiet ones), or the time is
    up (the caller's assertions then say what is missing); returns the last exposition."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with aiohttp.ClientSession() as http:
        while True:
            text = await _scrape(http, port)
            types, sampled = _with_samples(text)
            wanted = {family_of(name, types) for name in series} - QUIET_FAMILIES
            if wanted <= sampled or loop.time() > deadline:
                return text
            await asyncio.sleep(0.5)


async def test_every_dashboard_metric_is_exported_by_a_live_recorder(start_recorder):
    exprs = list(dashboard_exprs(orjson.loads(DASHBOARD.read_bytes())))
    used = {expr: promql_metric_names(expr) for expr in exprs}
    assert len(exprs) >= 15 and all(used.values()), "every target selects a metric"
    series = set().union(*used.values())
    assert all(s.startswith("flowline_") for s in series), series

    sim = Simulator(SYMBOLS, seed=5, rate=300, paused=True)
    async with sim, start_recorder(sim) as running:
        sim.resume()
        books = running.recorder.keeper.books
        await wait_until(lambda: all(b.valid for b in books.values()), 20, "books in sync")
        # faults, so gaps, resyncs, 429s and malformed frames have samples too
        sim.faults.skip_depth_ids(SYMBOLS[0], 1)
        sim.faults.rest_error(429, path="/fapi/v1/openInterest", retry_after=1)
        sim.faults.malformed_frames(1, f"{SYMBOLS[1].lower()}@aggTrade")
        text = await _scrape_until_sampled(running.recorder.metrics_port, series, 20)
        sim.pause()

    types, sampled = _with_samples(text)
    families = {}
    for name in sorted(series):
        family = family_of(name, types)
        assert family is not None, f"{name} is not a series of the live /metrics"
        families[name] = family
    assert "flowline_commit_lag_seconds" in families.values()  # the p50/p99 panel
    quiet = set(families.values()) - sampled
    assert quiet <= QUIET_FAMILIES, f"dashboard families without live samples: {quiet}"


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → host path of a compose service's bind mounts (``./...`` sources)."""
    result = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            result[target] = ROOT / source
    return result


def test_compose_provisions_prometheus_and_grafana_from_files_that_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    prometheus, grafana = _mounts(services["prometheus"]), _mounts(services["grafana"])
    for path in [*prometheus.values(), *grafana.values()]:
        assert path.exists(), path

    config = yaml.safe_load(prometheus["/etc/prometheus/prometheus.yml"].read_text())
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {
        "flowline-recorder": ["recorder:9108"],
        "flowline-strategy": ["strategy:9109"],
    }
    assert {"recorder", "strategy"} <= set(services)

    provisioning = grafana["/etc/grafana/provisioning"]
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "flowline.yml").read_text())
    (provider,) = providers["providers"]
    dashboards = grafana[provider["options"]["path"]]  # the provider reads the mounted folder
    assert DASHBOARD.parent == dashboards and DASHBOARD.exists()

    dashboard = orjson.loads(DASHBOARD.read_bytes())
    uids = set()
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            uids.add(panel["datasource"]["uid"])
            uids.update(target["datasource"]["uid"] for target in panel["targets"])
    assert uids == {source["uid"]}
