"""The running payments app the integration modules share (one per module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.plans import give_seed_plans
from kernels.policy import PolicyCatalog, parse_policy
from services.payments.app import create_app
from shared.db import make_engine, make_sessionmaker
from shared.plan_copies import PlanCopies

from .payments_support import payments_settings


@pytest.fixture(scope="module")
async def env(infra: TestInfra) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine, Any]]:
    settings = infra.settings()
    app = create_app(settings, payments_settings())
    engine = make_engine(settings)
    async with running_app(app) as client:
        yield client, engine, settings
    await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
async def seed_plans_received(infra: TestInfra) -> None:
    """payments.plans holds the seed plans, as if eligibility had published them at first start
    (payments never reads eligibility's files; the event path itself is tested in
    tests/test_plans_registry.py)."""
    engine = make_engine(infra.settings())
    async with make_sessionmaker(engine)() as session, session.begin():
        await give_seed_plans(session, PlanCopies("payments", parse_policy, PolicyCatalog))
    await engine.dispose()
