"""Shorthands for writing a service's access rules: who may call which route.

Each service lists every route in its `access.py`; a route without a rule is refused to
everyone (default deny), and a test checks that no route is forgotten."""

from __future__ import annotations

from shared.auth import DEFAULT_REGION_PARAMS, AccessRule

TOWNSHIP = "township_staff"
DEPARTMENT = "department_officer"
MEDICAL = "medical_insurance_officer"
TAX = "tax_officer"
FINANCE = "finance_officer"
SUPERVISOR = "supervisor"
ADMIN = "administrator"
# village (村/社区) staff collecting on the tax bureau's behalf (代收); region: their village
COLLECTOR = "village_collector"
ALL_STAFF = (TOWNSHIP, DEPARTMENT, MEDICAL, TAX, FINANCE, SUPERVISOR, ADMIN, COLLECTOR)


def allow(*roles: str, scopes: tuple[str, ...] = (), regions: bool = True,
          department_param: str | None = None) -> AccessRule:
    """Staff in `roles` (administrators always) and system callers holding one of `scopes`."""
    return AccessRule(
        roles=frozenset((*roles, ADMIN)),
        scopes=frozenset(scopes),
        region_params=DEFAULT_REGION_PARAMS if regions else (),
        department_param=department_param,
    )
