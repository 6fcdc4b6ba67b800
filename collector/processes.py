"""``RECORDER_PROCESSES=N``: N recorder processes on this host sharing the symbols.

The parent starts N children (``main.py record`` with ``LEASES=on``), each with its own
connections, writers and spool (child 0 keeps SPOOL_DIR, so a spool left by a single recorder is
replayed; child i uses SPOOL_DIR/process-i), and splits the symbols through the same leases
recorders on other hosts use (collector/leases.py). It serves the one ``/health`` and
``/metrics`` on METRICS_HOST:METRICS_PORT from the children's own (on loopback ports): health
is ok when every child's is, metrics are the children's with a ``process`` label. A child that
dies is started again (meanwhile the others take its symbols over); one that exits with a
configuration error (2) stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterable

import aiohttp
import prometheus_client
from aiohttp import web
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from db.connect import DatabaseUnavailable, connect
from runtime import health
from settings import ROOT, Settings

log = logging.getLogger(__name__)

RESTART_AFTER = 1.0  # seconds before a child that died is started again
CONFIG_ERROR = 2
PARENT_PID = "FLOWLINE_PARENT_PID"  # set for a child: it stops when that parent is gone
ASK_TIMEOUT = aiohttp.ClientTimeout(total=5)


class Child:
    def __init__(self, index: int, settings: Settings) -> None:
        self.index = index
        self.port = _free_port()
        spool = settings.spool_dir if index == 0 else settings.spool_dir / f"process-{index}"
        self.env = {
            **os.environ,
            "RECORDER_PROCESSES": "1",
            "LEASES": "on",
            "LEASE_MEMBERS": str(settings.recorder_processes),
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": str(self.port),
            "SPOOL_DIR": str(spool),
            PARENT_PID: str(os.getpid()),
        }
        # Bybit's symbols are not split through the leases: the first child records them all
        if index > 0 and "binance" in settings.venues:
            self.env["VENUES"] = "binance"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "main.py"), "record", cwd=ROOT, env=self.env
        )
        log.info("recorder process %d started (pid %d)", self.index, self.proc.pid)

    async def stop(self, within: float = 60.0) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), within)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def stop_when_orphaned(stop: asyncio.Event) -> None:
    """A child whose parent died (kill -9, OOM) stops as on SIGTERM, flushing what it holds,
    instead of recording on unsupervised beside the children of the parent started next."""
    parent = os.environ.get(PARENT_PID)
    if parent is None:
        return
    while True:  # no event tells a process its parent died: its parent pid changes
        await asyncio.sleep(1.0)
        if os.getppid() != int(parent):
            break
    log.warning("the parent recorder process %s is gone: stopping", parent)
    stop.set()


async def run_processes(settings: Settings, stop: asyncio.Event) -> int:
    """Run the children until ``stop``; returns the exit code for ``main.py record``."""
    await _check_database(settings.database_url)
    children = [Child(i, settings) for i in range(settings.recorder_processes)]
    async with aiohttp.ClientSession(timeout=ASK_TIMEOUT) as http:
        runner, port = await health.start(
            _app(children, http), settings.metrics_host, settings.metrics_port
        )
        log.info(
            "%d recorder processes; /health and /metrics on %s:%s",
            len(children), settings.metrics_host, port,
        )  # fmt: skip
        try:
            for child in children:
                await child.start()
            return await _supervise(children, stop)
        finally:
            await asyncio.gather(*(c.stop() for c in children))
            await runner.cleanup()


async def _supervise(children: list[Child], stop: asyncio.Event) -> int:
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            waits = {asyncio.ensure_future(c.proc.wait()): c for c in children if c.proc}
            done, _ = await asyncio.wait([stopping, *waits], return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if stopping in done:
                return 0
            for child in (waits[w] for w in done if w in waits):
                code = child.proc.returncode if child.proc else None
                if code == CONFIG_ERROR:
                    log.error("recorder process %d cannot start as configured", child.index)
                    return CONFIG_ERROR
                log.error("recorder process %d exited (%s); starting it again", child.index, code)
                await asyncio.sleep(RESTART_AFTER)
                await child.start()
    finally:
        stopping.cancel()


def _app(children: list[Child], http: aiohttp.ClientSession) -> web.Application:
    async def health_(_: web.Request) -> web.Response:
        answers = await asyncio.gather(*(_ask(http, c, "/health") for c in children))
        ok = all(status == 200 for status, _ in answers)
        body = {
            "status": "ok" if ok else "degraded",
            "processes": {
                str(c.index): _json(text) | {"pid": c.proc.pid if c.proc else None}
                for c, (_, text) in zip(children, answers, strict=True)
            },
        }
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        answers = await asyncio.gather(*(_ask(http, c, "/metrics") for c in children))
        # a child still starting (or restarting) is left out, and said so by the up gauge
        texts = {
            str(c.index): text if status == 200 else None
            for c, (status, text) in zip(children, answers, strict=True)
        }
        registry = prometheus_client.CollectorRegistry(auto_describe=False)
        registry.register(_Merged(texts))
        return web.Response(
            body=prometheus_client.generate_latest(registry),
            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
        )

    app = web.Application()
    app.router.add_get("/health", health_)
    app.router.add_get("/metrics", metrics)
    return app


class _Merged(Collector):
    """The children's metric families, each sample labelled with its process index."""

    def __init__(self, texts: dict[str, str | None]) -> None:
        self.texts = texts

    def collect(self) -> Iterable[Metric]:
        up = Metric("flowline_recorder_process_up", "1 when the recorder process answers", "gauge")
        merged: dict[str, Metric] = {up.name: up}
        for index, text in self.texts.items():
            up.add_sample(up.name, {"process": index}, 0.0 if text is None else 1.0)
            for family in text_string_to_metric_families(text or ""):
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for s in family.samples:
                    into.add_sample(s.name, {**s.labels, "process": index}, s.value, s.timestamp)
        return merged.values()


async def _ask(http: aiohttp.ClientSession, child: Child, path: str) -> tuple[int, str]:
    """(status, body) of a child's endpoint; a child that does not answer is a 503."""
    try:
        async with http.get(child.url + path) as resp:
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 503, json.dumps({"status": "unreachable", "error": str(exc) or type(exc).__name__})


def _json(text: str) -> dict:
    with contextlib.suppress(ValueError):
        body = json.loads(text)
        if isinstance(body, dict):
            return body
    return {"status": "unreadable"}


async def _check_database(url: str) -> None:
    """The children would each fail the same way: say it once, before starting them."""
    conn = await connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass('recorder_leases') IS NOT NULL"):
            raise DatabaseUnavailable("the schema is missing: run `python main.py db init` first")
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
