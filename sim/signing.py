"""Binance's request authentication: ``X-MBX-APIKEY``, HMAC-SHA256 signature, timestamp window.

``signature = hex(HMAC_SHA256(secret, totalParams))`` where totalParams is the query string
concatenated with the request body, exactly as sent (still percent-encoded), without the
``signature`` parameter, which must come last. A request is in time when
``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow`` (reference §D.2).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl

from aiohttp import web

from sim.accounts import Account
from sim.rest import ApiError

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def mandatory(name: str) -> ApiError:
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


class Authenticator:
    """Finds the account of a request and checks its signature against the server clock."""

    def __init__(self, accounts: dict[str, Account], clock: Callable[[], int]) -> None:
        self.accounts = accounts
        self.clock = clock

    def account(self, request: web.Request) -> Account:
        """The account of the API key header (USER_STREAM and signed endpoints)."""
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key or not key.isalnum() or len(key) > 64:
            raise ApiError(-2014, "API-key format invalid.", status=401)
        account = self.accounts.get(key)
        if account is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        return account

    def signed(self, request: web.Request, body: str) -> tuple[Account, dict[str, str]]:
        """Authenticate a signed (TRADE/USER_DATA) request; returns its account and parameters."""
        account = self.account(request)
        query = request.query_string
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        self._check_time(params)
        signature = params.pop("signature", "")
        if not signature:
            raise mandatory("signature")
        payload = _without_signature(query) + _without_signature(body)
        expected = sign(account.secret, payload)
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(-1022, "Signature for this request is not valid.")
        return account, params

    def _check_time(self, params: dict[str, str]) -> None:
        raw = params.get("timestamp", "")
        if not raw.isdigit():
            raise mandatory("timestamp")
        window_raw = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
        if not window_raw.isdigit():
            raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'.")
        window = int(window_raw)
        if window > MAX_RECV_WINDOW:
            raise ApiError(-1131, "recvWindow must be less than 60000")
        timestamp, now = int(raw), self.clock()
        if timestamp >= now + 1000:
            raise ApiError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def _without_signature(part: str) -> str:
    """``part`` with its trailing ``signature=...`` parameter (and its ``&``) removed."""
    head, found, _ = part.rpartition("signature=")
    if not found:
        return part
    return head[:-1] if head.endswith("&") else head
