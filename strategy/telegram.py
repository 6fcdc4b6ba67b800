"""Telegram notifications: the Bot API's sendMessage over HTTPS, beside the webhook.

It is the webhook's queue and delivery (bounded, in order, retried with capped backoff, counted,
never holding up the worker) with Telegram's rules on top:
- the bot token is a path segment of the URL (``/bot<token>/sendMessage``): it comes only from
  the environment, is never part of a ``repr``, and log lines show only the API's origin;
- an answer is accepted only when it is a 2xx whose JSON says ``"ok": true``;
- a 429 carries ``parameters.retry_after`` (seconds): the next attempt waits exactly that long
  (a wait longer than ``max_retry_after`` gives the message up instead of stalling the queue);
- messages leave at least ``min_interval`` apart (Telegram allows about one a second per chat);
- a text longer than Telegram's 4096 characters is cut.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import orjson

from logsafe import printable
from settings import SettingsError
from strategy.webhook import DeliveryError, Webhook

API_URL = "https://api.telegram.org"
MAX_TEXT = 4096  # sendMessage's limit on `text`


@dataclass(frozen=True)
class TelegramConfig:
    token: str = field(repr=False)
    chat_id: str
    api_url: str = API_URL
    min_interval: float = 1.0  # seconds between messages (Telegram: ~1/s per chat, 20/min a group)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelegramConfig | None:
        """TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID (both or neither; None: no Telegram) and
        TELEGRAM_API_URL (plain http only to loopback: the token travels in the path) and
        TELEGRAM_MIN_INTERVAL (seconds between messages)."""
        env = os.environ if env is None else env
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        chat = env.get("TELEGRAM_CHAT_ID", "").strip()
        if not token and not chat:
            return None
        if not token or not chat:
            raise SettingsError("TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID are set together")
        if any(c in token for c in "/?#%") or any(c.isspace() for c in token):
            raise SettingsError("TELEGRAM_BOT_TOKEN: not a bot token (like 123456:ABC-def...)")
        url = env.get("TELEGRAM_API_URL", "").strip().rstrip("/") or API_URL
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"TELEGRAM_API_URL={printable(url, 100)!r}: expected https://host")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise SettingsError("TELEGRAM_API_URL: plain http only to loopback (the token is sent)")
        return cls(token, chat, url, _interval(env.get("TELEGRAM_MIN_INTERVAL", "").strip()))


def _interval(text: str) -> float:
    try:
        value = float(text) if text else 1.0
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise SettingsError(f"TELEGRAM_MIN_INTERVAL={printable(text, 40)!r}: expected seconds >= 0")
    return value


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Telegram(Webhook):
    """Send texts to one chat. Call `start()` inside the event loop; `send_text` never blocks."""

    name = "telegram"

    def __init__(
        self,
        config: TelegramConfig,
        timeout: float = 10.0,
        max_queue: int = 200,
        *,
        max_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        min_interval: float | None = None,
        max_retry_after: float = 300.0,
    ) -> None:
        super().__init__(
            f"{config.api_url}/bot{config.token}/sendMessage", timeout, max_queue,
            max_attempts=max_attempts, backoff_initial=backoff_initial, backoff_max=backoff_max,
        )  # fmt: skip
        self.chat_id = config.chat_id
        self.min_interval = config.min_interval if min_interval is None else min_interval
        self.max_retry_after = max_retry_after
        self.rate_limited = 0  # 429 answers
        self._last_post = -float("inf")

    def send_text(self, text: str) -> None:
        """Enqueue one message; returns at once and never raises."""
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        self.send({"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True})

    async def _post(self, body: bytes) -> None:
        pause = self._last_post + self.min_interval - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        self._last_post = time.monotonic()
        await super()._post(body)

    async def _check(self, response: aiohttp.ClientResponse) -> None:
        try:
            answer = orjson.loads(await response.read())
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        if 200 <= response.status < 300 and answer.get("ok") is True:
            return
        text = printable(str(answer.get("description") or response.reason or ""), 120)
        reason = f"HTTP {response.status} {text}".rstrip()
        if response.status == 429:
            self.rate_limited += 1
            raise self._rate_limited(reason, answer.get("parameters"))
        raise DeliveryError(reason, retryable=response.status >= 500)

    def _rate_limited(self, reason: str, parameters: object) -> DeliveryError:
        after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if not isinstance(after, int | float) or isinstance(after, bool) or after < 0:
            after = self.backoff_max  # a 429 without a usable retry_after: back off fully
        if after > self.max_retry_after:
            return DeliveryError(f"{reason} (retry_after {after:g} s: too long)", retryable=False)
        return DeliveryError(reason, retryable=True, retry_after=float(after))
