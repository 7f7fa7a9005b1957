from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.testing.infra import TestInfra, start_test_infra

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
