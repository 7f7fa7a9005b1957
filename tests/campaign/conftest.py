"""One running system (the four services as processes, the real broker, signed tokens, the
three kinds of channel) shared by the seed-plan campaign tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from devtools.infra import create_database
from devtools.testing.infra import TestInfra
from devtools.testing.system import RunningSystem, start_system
from shared.auth import ensure_dev_keypair
from shared.migrations import upgrade_all

from .support import KEYS, ROOT, channel_env


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
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client
