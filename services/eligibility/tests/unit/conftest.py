from __future__ import annotations

import pytest

from kernels.policy import Policy, PolicyCatalog
from services.eligibility.plans.registry import SEED_DIR


@pytest.fixture(scope="session")
def catalog() -> PolicyCatalog:
    return PolicyCatalog.load(SEED_DIR)


@pytest.fixture(scope="session")
def tengzhou_2025(catalog: PolicyCatalog) -> Policy:
    return catalog.get("370481", 2025)


@pytest.fixture(scope="session")
def tengzhou_2021(catalog: PolicyCatalog) -> Policy:
    return catalog.get("370481", 2021)


@pytest.fixture(scope="session")
def pingyin_2025(catalog: PolicyCatalog) -> Policy:
    return catalog.get("370124", 2025)


@pytest.fixture(scope="session")
def yutai_2024(catalog: PolicyCatalog) -> Policy:
    return catalog.get("370827", 2024)


@pytest.fixture(scope="session")
def shuozhou_2025(catalog: PolicyCatalog) -> Policy:
    return catalog.get("140600", 2025)
