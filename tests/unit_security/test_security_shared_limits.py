"""Rate limits shared by the replicas of a service: two app instances, each with its own
connection pool (as two replicas have), keep their buckets in one PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from devtools.testing.infra import TestInfra
from shared.limits import PostgresRateStore, RateLimit, RateLimitMiddleware

# refills 0.001 token a second: nothing comes back while the test runs
LIMITS = {"/v1/bills": RateLimit(rate=0.001, burst=4)}


def replica(store: PostgresRateStore | None) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/bills")
    async def bills() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/v1/webhooks/{channel}")
    async def webhook(channel: str) -> dict[str, str]:
        return {"ok": channel}

    app.add_middleware(RateLimitMiddleware, limits=LIMITS, store=store)
    return app


def client(app: FastAPI, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 5000)),
                             base_url="http://t")


@pytest.fixture
async def stores(infra: TestInfra) -> AsyncIterator[tuple[PostgresRateStore, PostgresRateStore]]:
    schema = f"limits_{uuid.uuid4().hex[:8]}"
    pair = (PostgresRateStore(infra.database_url, schema),
            PostgresRateStore(infra.database_url, schema))
    try:
        yield pair
    finally:
        for store in pair:
            await store.close()


async def test_two_replicas_share_one_budget(stores) -> None:  # noqa: ANN001
    one, two = replica(stores[0]), replica(stores[1])
    async with client(one, "10.1.0.1") as a, client(two, "10.1.0.1") as b:
        statuses = [(await c.get("/v1/bills")).status_code for c in (a, b) * 3]
        assert statuses == [200, 200, 200, 200, 429, 429]
        refused = await b.get("/v1/bills")
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # another client has its own budget, on either replica
        async with client(two, "10.1.0.2") as other:
            assert (await other.get("/v1/bills")).status_code == 200


async def test_concurrent_requests_on_both_replicas_take_exactly_the_burst(stores) -> None:  # noqa: ANN001
    one, two = replica(stores[0]), replica(stores[1])
    async with client(one, "10.2.0.1") as a, client(two, "10.2.0.1") as b:
        answers = await asyncio.gather(*(c.get("/v1/bills") for c in (a, b) * 10))
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 4 and statuses.count(429) == 16


async def test_per_process_buckets_multiply_with_replicas() -> None:
    """What the shared store prevents: without it each replica grants the whole burst."""
    one, two = replica(None), replica(None)
    async with client(one, "10.3.0.1") as a, client(two, "10.3.0.1") as b:
        statuses = [(await c.get("/v1/bills")).status_code for c in (a, b) * 4]
    assert statuses == [200] * 8


async def test_unlimited_paths_never_reach_the_database(stores) -> None:  # noqa: ANN001
    """Channel webhooks (not limited) cost no round trip; limited paths cost one each."""
    store = stores[0]
    app = replica(store)
    async with client(app, "10.4.0.1") as c:
        before = store._takes
        for _ in range(20):
            assert (await c.post("/v1/webhooks/wechatpay")).status_code == 200
        assert store._takes == before
        await c.get("/v1/bills")
        assert store._takes == before + 1


async def test_database_away_falls_back_to_the_process_bucket() -> None:
    store = PostgresRateStore("postgresql://nobody@127.0.0.1:1/none", "limits_away")
    async with client(replica(store), "10.5.0.1") as c:
        statuses = [(await c.get("/v1/bills")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


async def test_a_busy_client_leases_tokens_a_few_at_a_time(stores) -> None:  # noqa: ANN001
    """A limit of a thousand a second leases ten tokens per round trip (a tenth of the burst):
    25 requests cost 3 round trips, and the shared bucket lost exactly what was leased."""
    limits = {"/v1/bills": RateLimit(rate=1000, burst=100)}
    store = stores[0]
    assert store.lease_size(limits["/v1/bills"]) == 10
    app = FastAPI()

    @app.get("/v1/bills")
    async def bills() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(RateLimitMiddleware, limits=limits, store=store)
    async with client(app, "10.6.0.1") as c:
        before = store._takes
        statuses = [(await c.get("/v1/bills")).status_code for _ in range(25)]
    assert statuses == [200] * 25
    assert store._takes - before == 3


async def test_leasing_replicas_never_grant_more_than_the_shared_budget(stores) -> None:  # noqa: ANN001
    """Two replicas leasing two tokens at a time (rate 20/s, burst 40) for one client: what
    both grant together stays within the burst plus what refilled meanwhile."""
    limits = {"/v1/bills": RateLimit(rate=20, burst=40)}
    apps = []
    for store in stores:
        app = FastAPI()

        @app.get("/v1/bills")
        async def bills() -> dict[str, str]:
            return {"ok": "yes"}

        app.add_middleware(RateLimitMiddleware, limits=limits, store=store)
        apps.append(app)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client(apps[0], "10.7.0.1") as a, client(apps[1], "10.7.0.1") as b:
        answers = await asyncio.gather(*(c.get("/v1/bills") for c in (a, b) * 40))
    elapsed = loop.time() - started
    granted = [r.status_code for r in answers].count(200)
    assert granted <= 40 + 20 * elapsed + 1
    assert granted >= 40 - 2  # at most one lease held unused by the other replica
