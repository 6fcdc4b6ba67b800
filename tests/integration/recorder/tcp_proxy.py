"""A TCP proxy a test can cut: the database "goes away" without stopping the shared cluster.

``cut()`` aborts every link (both sides see a reset, as on a network failure) and closes the
listening socket, so new connections are refused; ``restore()`` listens on the same port again.
asyncpg's own tests prove recovery the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

CHUNK = 256 * 1024


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self._flowing = asyncio.Event()  # cleared by freeze(): links stay open, nothing passes
        self._flowing.set()

    @classmethod
    def for_url(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432)

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{self.port}"))

    @property
    def up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        self.cuts += 1
        for writer in list(self._links):
            writer.transport.abort()
        await self._settle()

    async def restore(self) -> None:
        await self.start()

    def freeze(self) -> None:
        """A database that hangs: connections open and stay open, but no byte goes through in
        either direction (until ``thaw``)."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        await self.cut()

    async def _settle(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._links.add(client_w)
        try:
            try:
                server_r, server_w = await asyncio.open_connection(*self.target)
            except OSError:
                return
            self._links.add(server_w)
            try:
                await asyncio.gather(
                    _pipe(client_r, server_w, self._flowing),
                    _pipe(server_r, client_w, self._flowing),
                )
            finally:
                self._links.discard(server_w)
                server_w.transport.abort()
        finally:
            self._links.discard(client_w)
            client_w.transport.abort()
            self._tasks.discard(task)


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(CHUNK):
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    writer.transport.abort()  # one side ended: end the other too
