"""Simulated time and its pacing against wall time.

Simulated time only moves in whole feed steps, and what a step produces depends on the seed and
the script alone, so the bytes sent never depend on wall time. Wall time only decides *when* a step
runs: at ``speed`` 1.0 one simulated second per wall second, at 10.0 ten, and at 0 as fast as the
clients read (the pacer then waits whenever a client's socket buffer is full instead of letting it
grow). ``advance(ms)`` steps a paused simulator by hand, which is what deterministic tests use.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from sim.hub import Hub

log = logging.getLogger(__name__)

HIGH_WATER = 1 << 20  # bytes waiting in a client's socket before a blast or advance() waits
MAX_CATCH_UP = 400  # steps run back to back before yielding to the event loop


class Source(Protocol):
    """What the pacer drives: the market feed or a replayed capture."""

    now: int  # simulated ms: everything before it has been published
    step_ms: int

    def step(self) -> None: ...


class Pacer:
    """Runs ``source.step()`` on schedule and flushes the hub after each batch of steps."""

    def __init__(self, source: Source, hub: Hub, speed: float = 1.0, paused: bool = False) -> None:
        self.source = source
        self.hub = hub
        self.speed = speed
        self._running = asyncio.Event()
        self._rebase = True
        if not paused:
            self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._rebase = True
        self._running.set()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self._rebase = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wall0, sim0 = loop.time(), self.source.now
        while True:
            await self._running.wait()
            if self._rebase:
                wall0, sim0, self._rebase = loop.time(), self.source.now, False
            if self.speed <= 0:
                await self._burst()
                continue
            due = sim0 + (loop.time() - wall0) * 1000 * self.speed
            steps = 0
            while self.source.now + self.source.step_ms <= due and steps < MAX_CATCH_UP:
                self.source.step()
                steps += 1
            self.hub.flush()
            if steps >= MAX_CATCH_UP:
                await asyncio.sleep(0)  # behind schedule: catch up, but let clients be served
                continue
            next_at = wall0 + (self.source.now + self.source.step_ms - sim0) / (1000 * self.speed)
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _burst(self, steps: int = 4) -> None:
        for _ in range(steps):
            self.source.step()
        self.hub.flush()
        await self.drain()

    async def drain(self) -> None:
        """Wait until every client has read most of what it was sent."""
        await asyncio.sleep(0)
        # Transports expose no "buffer below N" event to await across many connections: poll.
        while self.hub.congested(HIGH_WATER):  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    async def advance(self, ms: int) -> None:
        """Step a paused simulator ``ms`` of simulated time forward, delivering as it goes."""
        if not self.paused:
            raise RuntimeError("advance() needs a paused simulator (paused=True or pause())")
        target = self.source.now + ms
        steps = 0
        while self.source.now < target:
            self.source.step()
            steps += 1
            if steps % 20 == 0:
                self.hub.flush()
                await self.drain()
        self.hub.flush()
        await self.drain()
