"""The optional signal webhook: POST each signal as JSON to a URL, never holding up the worker.

`send` only serialises and enqueues; one background task delivers in order. A delivery is
retried with capped, jittered exponential backoff on connection errors, timeouts and 5xx, for a
bounded number of attempts; a 4xx is the receiver refusing this payload, so it is not retried.
A 3xx is refused like a 4xx: redirects are never followed. The queue is bounded: when it is full
the oldest payload is dropped, since a fresh signal is worth more than a stale one. `sent`,
`failed` and `dropped` count what became of every payload.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
import tenacity
import yarl

from logsafe import printable

log = logging.getLogger(__name__)

HEADERS = {"Content-Type": "application/json"}


class DeliveryError(Exception):
    """One attempt failed; `retryable` says whether another attempt may succeed."""

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after  # the receiver said when to try again (seconds)


class Webhook:
    """POST JSON payloads to `url` from a bounded queue. Call `start()` inside the event loop."""

    name = "webhook"  # how log lines name it

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        max_queue: int = 1000,
        *,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
    ) -> None:
        parsed = yarl.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("webhook URL must be http(s)://host/...")
        if max_queue < 1 or max_attempts < 1:
            raise ValueError("max_queue and max_attempts must be at least 1")
        self.url = url
        # webhook paths often carry a token (Slack, Discord, ...): logs show only the origin
        self._url_forms = {url, str(parsed)}
        self._shown_url = f"{parsed.origin()}/…"
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self.sent = 0  # delivered with a 2xx
        self.failed = 0  # refused (3xx/4xx), out of attempts, or not serialisable
        self.dropped = 0  # pushed out of a full queue, or still queued when close() gave up
        self.retries = 0  # attempts after the first
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(max_queue)
        self._closed = False
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout), headers=HEADERS
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def send(self, payload: dict[str, Any]) -> None:
        """Enqueue one payload; returns at once and never raises."""
        try:
            body = orjson.dumps(payload)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            self.failed += 1
            log.warning("%s: payload not sent, it is not JSON (%s)", self.name, exc)
            return
        if self._closed:
            self.dropped += 1
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            if self.dropped == 1:
                size = self._queue.maxsize
                log.warning("%s: queue full (%d), dropping the oldest", self.name, size)
        self._queue.put_nowait(body)

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Stop accepting, deliver what is queued for up to `drain_timeout` s, then stop."""
        self._closed = True
        try:
            if self._task is not None:
                await self._drain(drain_timeout)
        finally:
            self.dropped += self._queue.qsize()
            if self._session is not None:
                await self._session.close()

    async def _drain(self, drain_timeout: float) -> None:
        try:
            async with asyncio.timeout(drain_timeout):
                await self._queue.join()
        except TimeoutError:
            log.warning("%s: drain timed out with %d payloads queued", self.name, self.queued)
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task  # re-raises a programming error that ended the task early
        except asyncio.CancelledError:
            if (current := asyncio.current_task()) and current.cancelling():
                raise

    async def _run(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                await self._deliver(body)
            except asyncio.CancelledError:
                self.dropped += 1  # cut off mid-delivery by close()
                raise
            finally:
                self._queue.task_done()

    async def _deliver(self, body: bytes) -> None:
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, DeliveryError) and e.retryable
            ),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._post(body)
        except DeliveryError as exc:
            self.failed += 1
            tries = retrying.statistics.get("attempt_number", 1)
            log.warning("%s: payload not delivered after %d attempt(s): %s", self.name, tries, exc)
        else:
            self.sent += 1

    async def _post(self, body: bytes) -> None:
        assert self._session is not None, "Webhook.start() was not called"
        try:
            # never follow a redirect: the payload (and a token in the URL) would go elsewhere
            async with self._session.post(self.url, data=body, allow_redirects=False) as response:
                await self._check(response)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise DeliveryError(self._reason(exc), retryable=True) from exc
        except aiohttp.ClientError as exc:  # a redirect loop, a malformed response: not transient
            raise DeliveryError(self._reason(exc), retryable=False) from exc

    async def _check(self, response: aiohttp.ClientResponse) -> None:
        """Raise DeliveryError unless the receiver took the payload (a 2xx)."""
        if 200 <= response.status < 300:
            return
        reason = f"HTTP {response.status} {printable(response.reason or '', 80)}".rstrip()
        if 300 <= response.status < 400:
            reason += " (redirects are not followed)"
        raise DeliveryError(reason, retryable=response.status >= 500)

    def _reason(self, exc: Exception) -> str:
        # aiohttp's total timeout is a bare TimeoutError; some errors quote the whole URL
        text = str(exc) or f"no response within {self.timeout:g} s"
        for form in self._url_forms:
            text = text.replace(form, self._shown_url)
        return f"{type(exc).__name__}: {text}"

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds before the next attempt: what the receiver asked for, else capped jittered
        exponential backoff."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, DeliveryError) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(state)

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.debug("%s: attempt %d failed, retrying: %s", self.name, state.attempt_number, error)
