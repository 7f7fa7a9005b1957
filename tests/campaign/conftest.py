"""One running system (the four services as processes, the real broker, signed tokens, the
three kinds of channel) shared by the seed-plan campaign tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from devtools.infra import create_database
from devtools.testing.infra import TestInfra
from devtools.testing.system import RunningSystem, start_system
from shared.auth import ensure_dev_keypair
from shared.db import make_engine
from shared.migrations import upgrade_all
from shared.settings import Settings

from .support import KEYS, ROOT, channel_env


async def plans_received(database_url: str, seconds: float = 60) -> None:
    """At first start eligibility publishes the five seed plans (eligibility.plan.v1); the
    campaign starts once registration, payments and reporting hold them."""
    engine = make_engine(Settings(database_url=database_url, database_pool_size=1))
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while True:
            async with engine.connect() as conn:
                held = [(await conn.execute(text(
                    f"SELECT count(DISTINCT (region_code, plan_year)) FROM {s}.plans"
                ))).scalar_one() for s in ("registration", "payments", "reporting")]
            if min(held) >= 5:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the seed plans did not arrive: {held}")
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


@pytest.fixture(scope="package")
async def campaign_system(infra: TestInfra) -> AsyncIterator[RunningSystem]:
    ensure_dev_keypair(KEYS)
    # a database of its own: the campaigns' residents must not appear in the other tests'
    # region-wide counts (they share the session's server, not its database)
    database_url = await create_database(infra.database_url,
                                         f"canbao_campaign_{uuid.uuid4().hex[:8]}",
                                         drop_first=True)
    await asyncio.to_thread(upgrade_all, database_url)
    env = infra.env() | channel_env() | {
        "CANBAO_DATABASE_URL": database_url,
        "CANBAO_AUTH_ENABLED": "true",
        "CANBAO_JWT_PUBLIC_KEYS_DIR": str(KEYS),
    }
    running = start_system(env, ROOT / ".canbao" / "test-logs" / f"campaign-{uuid.uuid4().hex[:6]}")
    try:
        await running.wait_ready(timeout=90)
        await plans_received(database_url)
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client
