"""Binance's REST request-weight accounting per IP: budget, 429 with Retry-After, 418 bans.

Weight is counted per fixed window (a calendar minute on Binance, ``X-MBX-USED-WEIGHT-1M``).
A request that would exceed the budget gets 429 and a ``Retry-After`` of the seconds left in the
window; a client that keeps going after ``ban_after`` 429s in a window is banned (418, Retry-After
= seconds until the ban ends). Wall time, not simulated time: limits protect the real server.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Verdict:
    status: int  # 200, 429 or 418
    used: int  # weight used in the current window, this request included
    retry_after: int = 0  # seconds, for 429/418
    banned_until_ms: int = 0


@dataclass
class _Account:
    window: int = -1
    used: int = 0
    strikes: int = 0  # 429s answered in this window
    banned_until: float = 0.0


class WeightLimiter:
    """Per-IP weight budget."""

    def __init__(
        self,
        limit: int = 2400,
        window_s: float = 60.0,
        ban_after: int = 3,
        ban_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.ban_after = ban_after
        self.ban_s = ban_s  # Binance: "from 2 minutes to 3 days"
        self.clock = clock
        self._accounts: dict[str, _Account] = {}

    def charge(self, ip: str, weight: int) -> Verdict:
        now = self.clock()
        account = self._accounts.setdefault(ip, _Account())
        window = int(now // self.window_s)
        if window != account.window:
            account.window, account.used, account.strikes = window, 0, 0
        if now < account.banned_until:
            return self._banned(account, now)
        account.used += weight
        if account.used <= self.limit:
            return Verdict(200, account.used)
        account.strikes += 1
        if account.strikes > self.ban_after:
            account.banned_until = now + self.ban_s
            return self._banned(account, now)
        left = (window + 1) * self.window_s - now
        return Verdict(429, account.used, retry_after=max(1, math.ceil(left)))

    def used(self, ip: str) -> int:
        account = self._accounts.get(ip)
        if account is None or account.window != int(self.clock() // self.window_s):
            return 0
        return account.used

    def _banned(self, account: _Account, now: float) -> Verdict:
        return Verdict(
            418,
            account.used,
            retry_after=max(1, math.ceil(account.banned_until - now)),
            banned_until_ms=int(account.banned_until * 1000),
        )
