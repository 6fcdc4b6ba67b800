"""The Telegram notifier against a fake Bot API (aiohttp.web on 127.0.0.1): delivery, Telegram's
429 retry_after, refusals, pacing, and the token never in a log line."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from aiohttp import web

from strategy.config import PaperParams, StrategySpec
from strategy.notify import Notifiers, exit_text, signal_text
from strategy.risk import Decision
from strategy.signals import Quality, Side, Signal
from strategy.telegram import MAX_TEXT, Telegram, TelegramConfig
from strategy.trades import ClosedTrade
from tests.integration.strategy.test_signals_only import CHATTY
from tests.integration.strategy.test_worker import _run_live, fast_config

TOKEN = "123456:SECRET-t0ken_value"
FAST = {"max_attempts": 4, "backoff_initial": 0.01, "backoff_max": 0.05, "min_interval": 0.0}


class BotApi:
    """Answers like api.telegram.org: `answers` are (status, body) used in turn, then ok."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[tuple[float, str, dict]] = []  # (monotonic time, path, JSON body)
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((time.monotonic(), request.path, await request.json()))
        status, body = self.answers.pop(0) if self.answers else (200, {"ok": True, "result": {}})
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    def config(self) -> TelegramConfig:
        return TelegramConfig(TOKEN, "-100777", self.base)


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApi]:
    api = BotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", api.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield api
    finally:
        await runner.cleanup()


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def too_many(retry_after: float) -> tuple[int, dict]:
    return 429, {"ok": False, "error_code": 429,
                 "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}  # fmt: skip


async def test_a_message_is_sent_to_the_chat(bot_api):
    bot = Telegram(bot_api.config(), **FAST)
    bot.start()
    bot.send_text("hello")
    await bot.close(drain_timeout=10.0)
    [(_, path, body)] = bot_api.requests
    assert path == f"/bot{TOKEN}/sendMessage"
    assert body == {"chat_id": "-100777", "text": "hello", "disable_web_page_preview": True}
    assert (bot.sent, bot.failed, bot.dropped, bot.rate_limited) == (1, 0, 0, 0)


async def test_429_waits_the_retry_after_it_names(bot_api, caplog):
    caplog.set_level(logging.DEBUG)
    bot_api.answers = [too_many(0.4)]
    bot = Telegram(bot_api.config(), **FAST)
    bot.start()
    bot.send_text("first")
    bot.send_text("second")
    await bot.close(drain_timeout=10.0)
    times = [t for t, _, _ in bot_api.requests]
    assert [b["text"] for _, _, b in bot_api.requests] == ["first", "first", "second"]
    assert times[1] - times[0] >= 0.4  # not the 0.01 s backoff
    assert (bot.sent, bot.failed, bot.rate_limited, bot.retries) == (2, 0, 1, 1)
    assert all(TOKEN not in m and "SECRET" not in m for m in logged(caplog))


async def test_a_retry_after_beyond_the_cap_gives_the_message_up(bot_api, caplog):
    bot_api.answers = [too_many(3600)]
    bot = Telegram(bot_api.config(), **FAST, max_retry_after=60.0)
    bot.start()
    bot.send_text("late")
    bot.send_text("next")
    await bot.close(drain_timeout=10.0)
    assert [b["text"] for _, _, b in bot_api.requests] == ["late", "next"]
    assert (bot.sent, bot.failed, bot.rate_limited) == (1, 1, 1)
    [warning] = [m for m in logged(caplog) if "not delivered" in m]
    assert "HTTP 429" in warning and "too long" in warning and "SECRET" not in warning


async def test_a_refusal_is_not_retried_and_a_5xx_is(bot_api, caplog):
    bot_api.answers = [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
        (503, {"ok": False, "error_code": 503, "description": "Service Unavailable"}),
    ]
    bot = Telegram(bot_api.config(), **FAST)
    bot.start()
    bot.send_text("refused")
    bot.send_text("retried")
    await bot.close(drain_timeout=10.0)
    texts = [b["text"] for _, _, b in bot_api.requests]
    assert texts == ["refused", "retried", "retried", "retried"]
    assert (bot.sent, bot.failed, bot.retries) == (1, 1, 2)
    [warning] = [m for m in logged(caplog) if "not delivered" in m]
    assert "1 attempt" in warning and "chat not found" in warning
    assert all("SECRET" not in m for m in logged(caplog))


async def test_an_unreachable_api_is_counted_not_raised(caplog):
    config = TelegramConfig(TOKEN, "1", "http://127.0.0.1:9")  # discard port: refused
    bot = Telegram(config, **{**FAST, "max_attempts": 2})
    bot.start()
    bot.send_text("nobody listens")
    await bot.close(drain_timeout=10.0)
    assert (bot.sent, bot.failed) == (0, 1)
    assert all("SECRET" not in m for m in logged(caplog))


async def test_messages_are_paced_and_long_texts_cut(bot_api):
    bot = Telegram(bot_api.config(), **{**FAST, "min_interval": 0.2})
    bot.start()
    for text in ("a", "b", "x" * (MAX_TEXT + 500)):
        bot.send_text(text)
    await bot.close(drain_timeout=10.0)
    times = [t for t, _, _ in bot_api.requests]
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))
    last = bot_api.requests[-1][2]["text"]
    assert len(last) == MAX_TEXT and last.endswith("…")


def a_signal() -> Signal:
    return Signal(
        time_ms=1_796_000_000_000, symbol="BTCUSDT", strategy="scored_imbalance",
        side=Side.LONG, entry=50_000.0, stop=49_000.0, targets=(51_000.0, 51_500.0),
        quality=Quality.HIGH, score=85.0, reasons={"imbalance": 0.35, "large_buys": 5},
    )  # fmt: skip


async def test_notifiers_send_accepted_signals_and_exits_to_telegram(bot_api):
    notify = Notifiers(None, bot_api.config())
    assert notify.telegram is not None
    notify.telegram.min_interval = 0.0
    notify.start()
    signal = a_signal()
    notify.signal(signal, Decision(False, "max_concurrent"), 2_700_000)  # refused: not sent
    notify.signal(signal, Decision(True, "accepted", 0.02), 2_700_000)
    trade = ClosedTrade(signal.signal_id, "BTCUSDT", "scored_imbalance", Side.LONG, Quality.HIGH,
                        signal.time_ms, signal.time_ms + 1_500_000, 50_000.0, 51_000.0, 0.02,
                        0.8, 19.2, "target")  # fmt: skip
    notify.closed(trade)
    await notify.close()
    entry, exit_ = (b["text"] for _, _, b in bot_api.requests)
    assert entry == signal_text(signal, Decision(True, "accepted", 0.02), 2_700_000)
    assert entry.splitlines()[:4] == [
        "ENTRY LONG BTCUSDT · HIGH · score 85",
        "entry 50000  stop 49000  TP1 51000  TP2 51500",
        "R:R 1.50",
        "expected hold ≤ 45m",
    ]
    assert exit_ == exit_text(trade) and exit_.startswith("EXIT LONG BTCUSDT · target · PnL +19.20")
    assert str(uuid.UUID(str(signal.signal_id))) in entry


async def test_the_token_comes_from_the_environment_only():
    assert TelegramConfig.from_env({}) is None
    config = TelegramConfig.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": "42"})
    assert config is not None and config.api_url == "https://api.telegram.org"
    assert "SECRET" not in repr(config)


async def test_a_live_worker_sends_its_accepted_signals_and_closed_trades(
    record_session, strategy_db, bot_api, monkeypatch
):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
    monkeypatch.setenv("TELEGRAM_API_URL", bot_api.base)
    monkeypatch.setenv("TELEGRAM_MIN_INTERVAL", "0")
    config = fast_config(executor="paper", paper=PaperParams(max_hold_ms=20_000),
                         strategies=(StrategySpec("scored_imbalance", params=CHATTY),))  # fmt: skip
    _, signals, _ = await _run_live(record_session, strategy_db, config)
    conn = await asyncpg.connect(strategy_db)
    try:
        closed = await conn.fetch(
            "SELECT position_id FROM positions WHERE status = 'closed' AND entry_price IS NOT NULL"
        )
    finally:
        await conn.close()
    texts = [b["text"] for _, _, b in bot_api.requests]
    ids = {kind: [t.splitlines()[-1].removeprefix("id ") for t in texts if t.startswith(kind)]
           for kind in ("ENTRY", "EXIT")}  # fmt: skip
    accepted = [str(r["signal_id"]) for r in signals if r["decision"] == "accepted"]
    assert accepted and sorted(ids["ENTRY"]) == sorted(accepted)
    assert closed and sorted(ids["EXIT"]) == sorted(str(r["position_id"]) for r in closed)
    assert len(texts) == len(accepted) + len(closed)
