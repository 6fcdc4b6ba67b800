"""The signal webhook against a real aiohttp.web server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from strategy.webhook import Webhook

FAST = {"max_attempts": 5, "backoff_initial": 0.01, "backoff_max": 0.05}


class Receiver:
    """Answers `fail_status` to the first `fail_first` requests and 200 after; the first
    `hang_first` requests are held until the test ends (a receiver that never answers)."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.fail_status = 500
        self.hang_first = 0
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.content_types.append(request.content_type)
        n = len(self.bodies)
        if n <= self.hang_first:
            await self.release.wait()
        return web.Response(status=self.fail_status if n <= self.fail_first else 200)

    def payloads(self) -> list[dict]:
        return [orjson.loads(b) for b in self.bodies]


async def redirect_to_itself(request: web.Request) -> web.Response:
    raise web.HTTPTemporaryRedirect(request.path)  # 307: the client repeats the POST


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rx.handle)
    app.router.add_post("/hook/loop/{token}", redirect_to_itself)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rx.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield rx
    finally:
        rx.release.set()
        await runner.cleanup()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "strategy.webhook" and r.levelno == logging.WARNING
    ]


def signal_payload(n: int = 0) -> dict:
    return {
        "signal_id": uuid.uuid5(uuid.NAMESPACE_URL, f"signal-{n}"),
        "symbol": "BTCUSDT",
        "side": "LONG",
        "entry": 97_000.5,
        "targets": [97_100.0, 97_250.0],
        "n": n,
    }


async def test_5xx_is_retried_until_delivered(receiver, caplog):
    receiver.fail_first = 2
    hook = Webhook(receiver.url, timeout=5.0, max_queue=10, **FAST)
    hook.start()
    hook.send(signal_payload())
    await hook.close(drain_timeout=10.0)
    assert (hook.sent, hook.failed, hook.dropped, hook.retries) == (1, 0, 0, 2)
    assert len(receiver.bodies) == 3 and len(set(receiver.bodies)) == 1  # the same body each time
    expected = signal_payload()
    expected["signal_id"] = str(expected["signal_id"])
    assert receiver.payloads()[0] == expected
    assert receiver.content_types == ["application/json"] * 3
    assert warnings_of(caplog) == []


async def test_4xx_is_not_retried(receiver, caplog):
    receiver.fail_first, receiver.fail_status = 100, 422
    hook = Webhook(receiver.url, timeout=5.0, max_queue=10, **FAST)
    hook.start()
    hook.send(signal_payload())
    await hook.close(drain_timeout=10.0)
    assert len(receiver.bodies) == 1
    assert (hook.sent, hook.failed, hook.retries) == (0, 1, 0)
    [warning] = warnings_of(caplog)
    assert "1 attempt" in warning and "HTTP 422" in warning


async def test_persistent_5xx_gives_up_after_max_attempts_and_logs_once(receiver, caplog):
    receiver.fail_first, receiver.fail_status = 100, 503
    hook = Webhook(receiver.url, timeout=5.0, max_queue=10, **{**FAST, "max_attempts": 3})
    hook.start()
    hook.send(signal_payload(1))
    hook.send(signal_payload(2))
    await hook.close(drain_timeout=10.0)
    assert len(receiver.bodies) == 6
    assert [p["n"] for p in receiver.payloads()] == [1, 1, 1, 2, 2, 2]
    assert (hook.sent, hook.failed, hook.retries) == (0, 2, 4)
    warnings = warnings_of(caplog)
    assert len(warnings) == 2  # one line per lost payload, not one per attempt
    assert all("3 attempt" in w and "HTTP 503" in w for w in warnings)


async def test_a_timeout_is_retried(receiver):
    receiver.hang_first = 1
    hook = Webhook(receiver.url, timeout=0.3, max_queue=10, **FAST)
    hook.start()
    hook.send(signal_payload())
    await hook.close(drain_timeout=10.0)
    assert (hook.sent, hook.failed, hook.retries) == (1, 0, 1)
    assert len(receiver.bodies) == 2


def dead_url() -> str:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def test_a_dead_url_does_not_block_send(caplog):
    hook = Webhook(dead_url(), timeout=1.0, max_queue=5, **{**FAST, "max_attempts": 2})
    hook.start()
    started = time.perf_counter()
    for n in range(200):
        hook.send(signal_payload(n))
    elapsed = time.perf_counter() - started
    # send() is plain enqueueing: nothing awaited, so the background task has not run yet
    assert (hook.queued, hook.dropped, hook.sent, hook.failed) == (5, 195, 0, 0)
    assert elapsed < 0.5, elapsed  # microseconds each in practice
    # the event loop stays free while deliveries fail and back off
    ticks = 0
    for _ in range(10):
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 10
    await hook.close(drain_timeout=10.0)
    assert (hook.sent, hook.failed, hook.dropped, hook.queued) == (0, 5, 195, 0)
    warnings = warnings_of(caplog)
    assert "dropping the oldest" in warnings[0]
    refused = warnings[1:]
    assert len(refused) == 5 and all("2 attempt" in w and "Connect" in w for w in refused)


async def test_a_full_queue_drops_the_oldest(receiver):
    hook = Webhook(receiver.url, timeout=5.0, max_queue=3, **FAST)
    hook.start()
    for n in range(5):
        hook.send(signal_payload(n))
    await hook.close(drain_timeout=10.0)
    assert [p["n"] for p in receiver.payloads()] == [2, 3, 4]
    assert (hook.sent, hook.dropped, hook.failed) == (3, 2, 0)


async def test_close_drains_the_queue_in_order(receiver):
    receiver.fail_first = 3  # the first payload needs retries; the rest wait behind it
    hook = Webhook(receiver.url, timeout=5.0, max_queue=100, **FAST)
    hook.start()
    for n in range(40):
        hook.send(signal_payload(n))
    await hook.close(drain_timeout=20.0)
    assert (hook.sent, hook.failed, hook.dropped, hook.queued) == (40, 0, 0, 0)
    assert [p["n"] for p in receiver.payloads()] == [0, 0, 0, *range(40)]


async def test_close_stops_after_the_drain_timeout(receiver, caplog):
    receiver.hang_first = 100  # the receiver accepts and never answers
    hook = Webhook(receiver.url, timeout=30.0, max_queue=10, **FAST)
    hook.start()
    for n in range(3):
        hook.send(signal_payload(n))
    started = time.perf_counter()
    await hook.close(drain_timeout=0.3)
    assert time.perf_counter() - started < 2.0
    # one cut off in flight, two never started: none lost silently
    assert (hook.sent, hook.failed, hook.dropped) == (0, 0, 3)
    assert any("drain timed out" in w for w in warnings_of(caplog))


async def test_send_never_raises(receiver, caplog):
    hook = Webhook(receiver.url, timeout=5.0, max_queue=10, **FAST)
    hook.start()
    hook.send({"not json": object()})
    hook.send(signal_payload())
    await hook.close(drain_timeout=10.0)
    hook.send(signal_payload(1))  # after close: counted, not raised
    assert (hook.sent, hook.failed, hook.dropped) == (1, 1, 1)
    assert "not JSON" in warnings_of(caplog)[0]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "http:///hook", "127.0.0.1:80"])
def test_only_http_urls_with_a_host_are_accepted(url):
    with pytest.raises(ValueError, match="http"):
        Webhook(url, timeout=1.0, max_queue=1)


async def test_a_connect_timeout_is_retried(caplog):
    # a listener that never accepts, its backlog already full: the kernel drops our SYNs
    caplog.set_level(logging.DEBUG, logger="strategy.webhook")
    with contextlib.ExitStack() as sockets:
        listener = sockets.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        for _ in range(3):
            filler = sockets.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        hook = Webhook(url, timeout=0.3, max_queue=10, **{**FAST, "max_attempts": 2})
        hook.start()
        hook.send(signal_payload())
        await hook.close(drain_timeout=10.0)
    assert (hook.sent, hook.failed, hook.retries) == (0, 1, 1)
    messages = [r.getMessage() for r in caplog.records if r.name == "strategy.webhook"]
    assert len(messages) == 2  # the retry at debug, the failure once at warning
    assert all("TimeoutError: no response within 0.3 s" in m for m in messages), messages


async def test_a_redirect_is_not_followed_fails_once_and_logs_no_url_path(receiver, caplog):
    # following it would re-POST the payload elsewhere; webhook paths often hold a token
    caplog.set_level(logging.DEBUG, logger="strategy.webhook")
    hook = Webhook(receiver.url + "/loop/T0KEN-s3cret", timeout=5.0, max_queue=10, **FAST)
    hook.start()
    hook.send(signal_payload())
    await hook.close(drain_timeout=10.0)
    assert (hook.sent, hook.failed, hook.retries) == (0, 1, 0)
    [message] = [r.getMessage() for r in caplog.records if r.name == "strategy.webhook"]
    assert "HTTP 307" in message and "redirects are not followed" in message
    assert "T0KEN" not in message
