from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.testing.infra import TestInfra, start_test_infra

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
async def infra() -> AsyncIterator[TestInfra]:
    state = ROOT / ".canbao"
    state.mkdir(exist_ok=True)
    running = await start_test_infra(state)
    try:
        yield running
    finally:
        running.stop()


# Service tests call the APIs without tokens unless they test access control itself
# (tests/test_access.py turns it on with its own keys).
os.environ.setdefault("CANBAO_AUTH_ENABLED", "false")
