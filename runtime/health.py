"""``/health`` (JSON; 503 when a stream is stale or the database has failed too long) and
``/metrics`` (Prometheus), bound to METRICS_HOST:METRICS_PORT (127.0.0.1 by default)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import prometheus_client
from aiohttp import web

DB_FAILING_THRESHOLD = 30.0  # seconds of failed writes before /health says 503
# A write under way this long counts as failing since it began (a database that hangs).
WRITE_HUNG_AFTER = 5.0


def _tasks() -> float:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # scraped outside the event loop's thread
        return float("nan")


TASKS = prometheus_client.Gauge(
    "flowline_asyncio_tasks", "Asyncio tasks alive in this process (steady growth is a leak)"
)
TASKS.set_function(_tasks)


def build_app(report: Callable[[], tuple[bool, dict[str, Any]]]) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        ok, body = report()
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        data = prometheus_client.generate_latest()
        return web.Response(
            body=data, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound


def ages(last_seen: dict[str, float], expected: list[str], started: float) -> dict[str, float]:
    """Seconds since each expected stream's last message (since start if none yet)."""
    now = time.monotonic()
    return {key: round(now - last_seen.get(key, started), 3) for key in expected}
