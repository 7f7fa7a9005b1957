"""Reporting's typed dependencies: what routers are given instead of reading
`request.app.state`.

- `PlanCopiesDep`: the plans reporting holds a copy of (`catalog`: read it where it is used,
  it is replaced when plans change).
- `PrincipalDep`: the authenticated caller (the app-wide access check has run).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from shared.auth import PrincipalDep
from shared.plan_copies import PlanCopies

__all__ = ["PlanCopiesDep", "PrincipalDep"]


def _plan_copies(request: Request) -> PlanCopies[Any, Any]:
    found: PlanCopies[Any, Any] = request.app.state.plans
    return found


PlanCopiesDep = Annotated[PlanCopies[Any, Any], Depends(_plan_copies)]
