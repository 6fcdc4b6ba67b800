"""Opening connections and pools, with one clear error when the database cannot be reached."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

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


def follows_primary(url: str) -> bool:
    """A URL that names several hosts, or picks one by target_session_attrs: a database that
    fails over (a primary with a synchronous standby, e.g. pg_auto_failover)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    hosts = parts.netloc.rpartition("@")[2].split(",") + query.get("host", [""])[0].split(",")
    return len([h for h in hosts if h]) > 1 or "target_session_attrs" in query


def _durable(url: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """synchronous_commit=off (the recorder's writers) acknowledges a commit before its WAL
    reaches the standby: a failover would lose rows the writer already forgot. On a database
    that fails over, commits wait for the synchronous standby (one round trip per batch)."""
    settings = kwargs.get("server_settings") or {}
    if settings.get("synchronous_commit") == "off" and follows_primary(url):
        return {**kwargs, "server_settings": {**settings, "synchronous_commit": "on"}}
    return kwargs


def _each_host(url: str) -> list[str]:
    """The URL once per host of its host list (``h1:p1,h2:p2``), in order; a single-host URL
    as it is (urlunsplit would turn ``postgresql:///db`` into ``postgresql:/db``)."""
    parts = urlsplit(url)
    user, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return [url]
    return [urlunsplit(parts._replace(netloc=f"{user}{at}{h}")) for h in hosts.split(",")]


async def _connect_each_host(url: str, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg tries a URL's hosts in turn under one timeout: a host that never answers
    (powered off, packets dropped) would use it all up before the next is tried. Here each host
    gets the whole timeout, so the standby a failover promoted is reached after the dead one."""
    hosts = _each_host(url)
    for i, one in enumerate(hosts):
        try:
            return await asyncpg.connect(one, **kwargs)
        except _CONNECT_ERRORS:
            if i == len(hosts) - 1:
                raise
    raise AssertionError("unreachable: a URL has at least one host")


async def connect(url: str, connect_timeout: float = 10.0, **kwargs: Any) -> asyncpg.Connection:
    try:
        return await _connect_each_host(url, timeout=connect_timeout, **_durable(url, kwargs))
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
    server_settings = _durable(url, {"server_settings": server_settings})["server_settings"]
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            server_settings=server_settings,
            connect=_connect_each_host,
            **kwargs,
        )
    except _CONNECT_ERRORS as exc:
        raise _explain(url, exc) from exc
    assert pool is not None
    return pool
