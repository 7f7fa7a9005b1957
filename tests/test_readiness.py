"""A service whose database or broker is down answers /readyz with 503 and recovers by itself."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

from devtools.infra import TansuBroker, free_port
from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.proxy import CuttableProxy
from services.registration.app import create_app


async def _wait_status(client, expected: int, timeout: float = 30) -> dict:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await client.get("/readyz")
        if r.status_code == expected:
            return r.json()
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/readyz stayed {r.status_code}: {r.text}")
        await asyncio.sleep(0.2)


def _through_proxy(url: str, port: int) -> str:
    parsed = urlparse(url)
    database = parsed.path
    return f"postgresql://postgres@127.0.0.1:{port}{database}"


async def test_database_down_gives_503_and_recovers(infra: TestInfra) -> None:
    proxy = CuttableProxy.for_postgres_url(infra.database_url)
    port = await proxy.start()
    app = create_app(infra.settings(database_url=_through_proxy(infra.database_url, port),
                                    consumers_enabled=False))
    async with running_app(app) as client:
        await _wait_status(client, 200)
        await proxy.cut()
        body = await _wait_status(client, 503)
        assert body["checks"]["database"].startswith("unreachable")
        assert (await client.get("/healthz")).status_code == 200  # alive all the same
        await proxy.restore()
        await _wait_status(client, 200)
    await proxy.cut()


async def test_broker_down_at_start_gives_503_and_recovers_when_it_arrives(infra: TestInfra) -> None:
    port = free_port()
    app = create_app(infra.settings(kafka_bootstrap_servers=f"127.0.0.1:{port}",
                                    kafka_idempotent_producer=False))
    async with running_app(app) as client:
        body = await _wait_status(client, 503)
        assert body["checks"]["broker"] == "unreachable"
        broker = TansuBroker(port=port)
        broker.start()
        try:
            body = await _wait_status(client, 200, timeout=40)
            assert body["checks"]["event_bus"] == "ok"
        finally:
            broker.stop()
