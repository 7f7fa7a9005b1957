"""A TCP proxy a test can cut and restore, to take a dependency away from a running service."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlparse


class CuttableProxy:
    def __init__(self, target_host: str | None, target_port: int | None,
                 unix_path: str | None = None) -> None:
        self.target_host, self.target_port, self.unix_path = target_host, target_port, unix_path
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def for_postgres_url(cls, url: str) -> CuttableProxy:
        parsed = urlparse(url.replace("postgresql+asyncpg://", "postgresql://"))
        socket_dir = parse_qs(parsed.query).get("host", [None])[0]
        if socket_dir and socket_dir.startswith("/"):
            port = parsed.port or 5432
            return cls(None, None, unix_path=f"{socket_dir}/.s.PGSQL.{port}")
        return cls(parsed.hostname or "127.0.0.1", parsed.port or 5432)

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Stop listening and drop every open connection."""
        if self.server:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for w in list(self._writers):
            w.close()
        for t in list(self._pipes):
            t.cancel()

    async def restore(self) -> None:
        await self.start(self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.unix_path:
                up_r, up_w = await asyncio.open_unix_connection(self.unix_path)
            else:
                up_r, up_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_w))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        for t in (asyncio.create_task(pipe(reader, up_w)), asyncio.create_task(pipe(up_r, writer))):
            self._pipes.add(t)
            t.add_done_callback(self._pipes.discard)
