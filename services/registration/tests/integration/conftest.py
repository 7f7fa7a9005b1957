from __future__ import annotations

import pytest

from devtools.testing.infra import TestInfra
from devtools.testing.plans import give_seed_plans
from kernels.policy import PolicyCatalog, parse_policy
from shared.db import make_engine, make_sessionmaker
from shared.plan_copies import PlanCopies


@pytest.fixture(scope="session", autouse=True)
async def seed_plans_received(infra: TestInfra) -> None:
    """registration.plans holds the seed plans, as if eligibility had published them at first
    start (their plan years are accepted; registration never reads eligibility's files)."""
    engine = make_engine(infra.settings())
    async with make_sessionmaker(engine)() as session, session.begin():
        await give_seed_plans(session, PlanCopies("registration", parse_policy, PolicyCatalog))
    await engine.dispose()
