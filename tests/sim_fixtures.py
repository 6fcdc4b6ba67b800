"""Pytest fixtures and helpers for tests that run against the in-process simulator.

Register as a plugin (``pytest_plugins = ["tests.sim_fixtures"]``) or import the fixtures.

``sim``         a paused, seeded Simulator with ground truth on, serving on 127.0.0.1:<free port>;
                the test moves time with ``await sim.advance(ms)``.
``sim_live``    the same market running on its own at 20× speed.
``http``        an aiohttp ClientSession.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from sim.server import Simulator

SIM_EPOCH_MS = 1_790_000_000_000  # a fixed simulated start, so tests are reproducible
SIM_SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def make_simulator(**options: Any) -> Simulator:
    """A simulator with the test defaults (paused, fixed epoch, ground truth), overridable."""
    settings: dict[str, Any] = {
        "seed": 7,
        "start_ms": SIM_EPOCH_MS,
        "paused": True,
        "record_truth": True,
        "rate": 200.0,
    }
    settings.update(options)
    symbols = settings.pop("symbols", SIM_SYMBOLS)
    return Simulator(symbols, **settings)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = make_simulator()
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def sim_live() -> AsyncIterator[Simulator]:
    simulator = make_simulator(paused=False, speed=20.0)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def receive_json(ws: aiohttp.ClientWebSocketResponse, wait: float = 5.0) -> Any:
    """The next text frame, decoded."""
    message = await ws.receive(timeout=wait)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return orjson.loads(message.data)


async def request(
    ws: aiohttp.ClientWebSocketResponse,
    method: str,
    params: list[Any] | None = None,
    request_id: int = 1,
) -> Any:
    """Send a JSON method and return its reply, skipping any data frames before it."""
    body: dict[str, Any] = {"method": method, "id": request_id}
    if params is not None:
        body["params"] = params
    await ws.send_str(orjson.dumps(body).decode())
    while True:
        reply = await receive_json(ws)
        if isinstance(reply, dict) and "id" in reply and ("result" in reply or "error" in reply):
            return reply


async def drain_text(
    ws: aiohttp.ClientWebSocketResponse, idle: float = 0.2, limit: int = 1_000_000
) -> list[bytes | str]:
    """Every frame that arrives until the connection has been idle for ``idle`` seconds."""
    frames: list[bytes | str] = []
    while len(frames) < limit:
        try:
            message = await ws.receive(timeout=idle)
        except TimeoutError:
            break
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        frames.append(message.data)
    return frames
