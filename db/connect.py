"""Opening connections and pools, with one clear error when the database cannot be reached."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from settings import redact_url

_AUTH_ERRORS = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
# TargetServerAttributeNotMatched: no host of a multi-host URL accepts writes (yet), e.g. while
# pg_auto_failover promotes the standby; callers retry it like any unreachable database.
_CONNECT_ERRORS = (
    OSError,
    TimeoutError,
    ValueError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.TargetServerAttributeNotMatched,
)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or refused us; the message is meant for a person."""


def _explain(url: str, exc: BaseException) -> DatabaseUnavailable:
    where = redact_url(url)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        reason = "the database does not exist"
    elif isinstance(exc, _AUTH_ERRORS):
        reason = "authentication failed"
    elif isinstance(exc, ConnectionRefusedError | OSError):
        reason = f"nothing is listening there ({exc.strerror or exc})"
    elif isinstance(exc, TimeoutError | asyncio.TimeoutError):
        reason = "timed out"
    elif isinstance(exc, asyncpg.TargetServerAttributeNotMatched):
        reason = f"no host is what target_session_attrs asks for ({exc})"
    elif isinstance(exc, ValueError | asyncpg.ClientConfigurationError):
        reason = f"the URL is malformed ({exc})"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return DatabaseUnavailable(f"cannot connect to DATABASE_URL {where}: {reason}")


async def connect(url: str, connect_timeout: float = 10.0, **kwargs: Any) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=connect_timeout, **kwargs)
    except _CONNECT_ERRORS as exc:
        raise _explain(url, exc) from exc


async def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 4,
    application_name: str = "flowline",
    **kwargs: Any,
) -> asyncpg.Pool:
    server_settings = {"application_name": application_name, **kwargs.pop("server_settings", {})}
    try:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, server_settings=server_settings, **kwargs
        )
    except _CONNECT_ERRORS as exc:
        raise _explain(url, exc) from exc
    assert pool is not None
    return pool
