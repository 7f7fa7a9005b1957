from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from devtools.testing.infra import TestInfra
from shared.db import make_engine


@pytest.fixture
async def reporting_engine(infra: TestInfra) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(infra.settings())
    yield engine
    await engine.dispose()


@pytest.fixture
async def rolled_back_session(reporting_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose writes are all rolled back at the end of the test."""
    async with reporting_engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint",
                               expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()
