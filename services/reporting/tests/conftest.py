from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from devtools.testing.infra import TestInfra
from devtools.testing.plans import give_seed_plans
from kernels.policy import PolicyCatalog, parse_policy
from shared.db import make_engine, make_sessionmaker
from shared.plan_copies import PlanCopies


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


@pytest.fixture(scope="session", autouse=True)
async def seed_plans_received(infra: TestInfra) -> None:
    """reporting.plans holds the seed plans, as if eligibility had published them at first start
    (reporting never reads eligibility's files; the event path itself is tested in
    tests/test_plans_registry.py)."""
    engine = make_engine(infra.settings())
    async with make_sessionmaker(engine)() as session, session.begin():
        await give_seed_plans(session, PlanCopies("reporting", parse_policy, PolicyCatalog))
    await engine.dispose()
