from __future__ import annotations

from collections.abc import Callable

import pytest
from registration_helpers import REGISTRY


@pytest.fixture
def registry() -> dict[str, str]:
    return dict(REGISTRY)


@pytest.fixture
def name_of(registry: dict[str, str]) -> Callable[[str], str | None]:
    return registry.get
