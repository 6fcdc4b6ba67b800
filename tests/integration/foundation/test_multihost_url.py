"""A multi-host DATABASE_URL (issue 21): asyncpg tries the hosts in order and, with
target_session_attrs=read-write, keeps the one that accepts writes; the passfile of the URL is
still read; when no host qualifies, one clear DatabaseUnavailable the writers retry."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from db.connect import DatabaseUnavailable, connect, create_pool


def _closed_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hosts(url: str, *extra_first: str, attrs: str = "read-write") -> str:
    """The URL with ``extra_first`` hosts before its own and target_session_attrs set."""
    parts = urlsplit(url)
    user, _, hostport = parts.netloc.rpartition("@")
    netloc = f"{user}@{','.join((*extra_first, hostport))}"
    query = "&".join(filter(None, (parts.query, f"target_session_attrs={attrs}")))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


async def test_a_dead_first_host_is_skipped_for_the_primary(database_url: str):
    url = _hosts(database_url, f"127.0.0.1:{_closed_port()}")
    conn = await connect(url)
    try:
        assert await conn.fetchval("SELECT NOT pg_is_in_recovery()")
        assert await conn.fetchval("SELECT current_user") == urlsplit(database_url).username
    finally:
        await conn.close()
    pool = await create_pool(url, min_size=2, max_size=2)
    try:
        assert await pool.fetchval("SELECT count(*) FROM agg_trades") >= 0
    finally:
        await pool.close()


async def test_a_host_that_never_answers_does_not_use_up_the_next_hosts_time(database_url: str):
    """A powered-off host drops packets; here a socket that accepts and never speaks. It gets
    its own connect timeout, and the next host is still tried (asyncpg alone gives up)."""
    silent: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # kept open, never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = _hosts(database_url, f"127.0.0.1:{port}")
    try:
        started = time.monotonic()
        conn = await connect(url, connect_timeout=1.5)
        try:
            assert await conn.fetchval("SELECT NOT pg_is_in_recovery()")
        finally:
            await conn.close()
        assert silent, "the silent host was not tried first"
        assert 1.4 < time.monotonic() - started < 10
    finally:
        for w in silent:
            w.close()
        server.close()
        await server.wait_closed()


async def test_no_host_that_accepts_writes_is_one_clear_error(database_url: str):
    url = _hosts(database_url, f"127.0.0.1:{_closed_port()}", attrs="standby")
    with pytest.raises(DatabaseUnavailable) as caught:
        await connect(url)
    message = str(caught.value)
    assert "target_session_attrs" in message and "\n" not in message


async def test_commits_wait_for_the_standby_on_a_database_that_fails_over(database_url: str):
    """The recorder's writers ask for synchronous_commit=off; a failover would lose commits
    already acknowledged, so on a multi-host URL they stay synchronous (bench/failover.py lost
    aggTrades without this). A single-host URL keeps the caller's choice."""
    off = {"synchronous_commit": "off"}
    for url, expected in ((database_url, "off"), (_hosts(database_url, "127.0.0.1:1"), "on")):
        conn = await connect(url, server_settings=off)
        try:
            assert await conn.fetchval("SHOW synchronous_commit") == expected, url
        finally:
            await conn.close()
    pool = await create_pool(_hosts(database_url, "127.0.0.1:1"), server_settings=off)
    try:
        assert await pool.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await pool.close()


async def test_a_socket_url_without_a_host_still_works(cluster):
    """``postgresql://user@/db?host=/socket/dir``: nothing to split, the URL is used as given."""
    conn = await connect(cluster.admin)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
