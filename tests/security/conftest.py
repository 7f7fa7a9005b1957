from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from devtools.testing.infra import TestInfra
from tests.security.world import World, secured_world


@pytest.fixture(scope="module")
async def world(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[World]:
    async with secured_world(infra, tmp_path_factory.mktemp("security-keys")) as seeded:
        yield seeded
