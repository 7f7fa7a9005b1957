"""A request whose transaction PostgreSQL rolls back to break a real deadlock answers 503
`busy_retry` with Retry-After (the shared error handlers every service installs), not 500."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import text

from devtools.testing.infra import TestInfra
from shared.db import make_engine
from shared.errors import install_error_handlers

LOCKS = 7001  # advisory lock class of this test only


async def test_a_request_that_loses_a_deadlock_answers_503_busy_retry(infra: TestInfra) -> None:
    """The route takes lock 1 then lock 2; the test holds lock 2, waits until the route waits
    for it, then asks for lock 1. The route began waiting first, so its deadlock check fires
    first and PostgreSQL rolls its transaction back (40P01)."""
    settings = infra.settings()
    engine = make_engine(settings)
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/both")
    async def both() -> dict[str, bool]:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:c, 1)"), {"c": LOCKS})
            await conn.execute(text("SELECT pg_advisory_xact_lock(:c, 2)"), {"c": LOCKS})
        return {"ok": True}

    other = await asyncpg.connect(
        settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        async with other.transaction(), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            await other.execute("SELECT pg_advisory_xact_lock($1, 2)", LOCKS)
            request = asyncio.create_task(client.post("/both"))
            for _ in range(500):
                if await other.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND classid = $1 AND objid = 2 AND NOT granted", LOCKS):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the route never waited for lock 2")
            await other.execute("SELECT pg_advisory_xact_lock($1, 1)", LOCKS)  # the cycle
            answer = await request
    finally:
        await other.close()
        await engine.dispose()
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["Content-Language"] == "zh-CN"
    error = answer.json()["error"]
    assert error["code"] == "busy_retry" and "未做任何更改" in error["message"]
