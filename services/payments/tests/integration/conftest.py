"""The running payments app the integration modules share (one per module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.payments.app import create_app
from shared.db import make_engine

from .payments_support import payments_settings


@pytest.fixture(scope="module")
async def env(infra: TestInfra) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine, Any]]:
    settings = infra.settings()
    app = create_app(settings, payments_settings())
    engine = make_engine(settings)
    async with running_app(app) as client:
        yield client, engine, settings
    await engine.dispose()
