"""Binance's error answers as exceptions a caller can act on (reference §C.1, §D).

``StatusUnknown`` is the important one: a 5xx, a timeout or a dropped connection after the
request left means the order may or may not exist. Never resend blindly; query it by client id.
"""

from __future__ import annotations


class BinanceError(Exception):
    """Binance answered ``{"code", "msg"}`` (or an HTTP error without one)."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"Binance error {code} (HTTP {status}): {msg}")
        self.code = code
        self.msg = msg
        self.status = status


class AuthError(BinanceError):
    """-2014/-2015 (API key) or -1022 (signature): check BINANCE_API_KEY / BINANCE_API_SECRET."""


class ClockSkewError(BinanceError):
    """-1021 even after re-syncing with /fapi/v1/time: this host's clock is unusable."""


class RateLimited(BinanceError):
    """429/418 (-1003) or the order rate (-1015); ``retry_after`` in seconds."""

    def __init__(self, code: int, msg: str, status: int, retry_after: float) -> None:
        super().__init__(code, msg, status)
        self.retry_after = retry_after


class UnknownOrder(BinanceError):
    """-2011 (cancel) / -2013 (query): no such order."""


class ListenKeyMissing(BinanceError):
    """-1125: the listen key expired or was deleted; create a new one."""


class OrderRejected(BinanceError):
    """Any other 4xx answer to an order: it does not exist (e.g. -2019, -2021, -4164)."""


class StatusUnknown(BinanceError):
    """5xx, -1007/-1001, a timeout or a connection lost mid-request: execution status unknown."""


_BY_CODE: dict[int, type[BinanceError]] = {
    -2014: AuthError,
    -2015: AuthError,
    -1022: AuthError,
    -1021: ClockSkewError,
    -2011: UnknownOrder,
    -2013: UnknownOrder,
    -1125: ListenKeyMissing,
    -1007: StatusUnknown,
    -1001: StatusUnknown,
}


def classify(code: int, msg: str, status: int, retry_after: float = 0.0) -> BinanceError:
    if status in (418, 429) or code in (-1003, -1015):
        return RateLimited(code, msg, status, retry_after or 1.0)
    if status >= 500 or status == 408:
        return StatusUnknown(code, msg, status)
    return _BY_CODE.get(code, OrderRejected)(code, msg, status)
