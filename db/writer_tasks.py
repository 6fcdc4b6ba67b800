"""One task per table writer, kept running until the writers are closed.

``TableWriter.run`` survives what it expects (failed writes are spooled) and what it does not
(a bug while flushing is logged and retried). What is left is its task ending anyway: an error
escaping ``run`` or a cancellation from outside. Such a task is never left dead in silence: the
death is logged (with the traceback when there is one), counted and reported through the
writer's ``on_event`` ("writer_error"), the writer counts as down (``down_since``, which makes
``/health`` unhealthy) until its next successful flush, and a new task starts a second later with
the rows the writer still holds. At shutdown a dead writer gets a task for its final flush.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable

from db.writer import TableWriter

log = logging.getLogger(__name__)

RESTART_AFTER = 1.0  # seconds: a task that dies at once does not spin


class WriterTasks:
    def __init__(self, writers: dict[str, TableWriter], restart_after: float = RESTART_AFTER):
        self.writers = writers
        self.restart_after = restart_after
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.deaths = 0

    def start(self) -> None:
        for table in self.writers:
            self._start(table)

    async def close(self, order: Iterable[Iterable[str]]) -> None:
        """Close the writers group by group (each group's final flushes may still record rows
        in a later group's table) and wait for their tasks."""
        for writer in self.writers.values():  # hung writes give up now, not a minute from now
            writer.hurry()
        for group in order:
            tables = list(group)
            for table in tables:
                await self.writers[table].close()
                if self.tasks[table].done():  # dead, its restart not yet due: flush now
                    self._start(table)
            await asyncio.gather(*(self.tasks[t] for t in tables), return_exceptions=True)

    def _start(self, table: str) -> None:
        task = asyncio.create_task(self.writers[table].run(), name=f"writer:{table}")
        task.add_done_callback(functools.partial(self._ended, table))
        self.tasks[table] = task

    def _ended(self, table: str, task: asyncio.Task[None]) -> None:
        writer = self.writers[table]
        if writer.closing or self.tasks.get(table) is not task:
            return  # finished its final flush, or already replaced
        exc = None if task.cancelled() else task.exception()
        cause = "cancelled" if exc is None else f"{type(exc).__name__}: {exc}"
        self.deaths += 1
        writer.stats.errors += 1
        writer.down_since = writer.down_since or time.time()
        log.error(
            "%s: writer task ended (%s); %d rows wait in memory; restarting it in %.0f s",
            table, cause, writer.queued, self.restart_after,
            exc_info=exc,
        )  # fmt: skip
        if writer.on_event is not None:
            writer.on_event(table, "writer_error", {"error": f"task ended: {cause}"})
        asyncio.get_running_loop().call_later(self.restart_after, self._restart, table)

    def _restart(self, table: str) -> None:
        if not self.writers[table].closing and self.tasks[table].done():
            self._start(table)
            log.warning("%s: writer task restarted", table)
