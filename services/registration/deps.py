"""Registration's typed dependencies: what routers are given instead of reading
`request.app.state`.

- `OutboxDep`: the service's outbox.
- `VaultDep`: the PII vault (identity numbers sealed and opened), from the service's settings.
- `PlanCopiesDep`: the plans registration holds a copy of (`years()`: the plan years known).
- `PrincipalDep`: the authenticated caller (the app-wide access check has run).
- `PersonServiceDep`, `EnrollmentServiceDep`: the services over the request's session (the
  routers still begin its transaction).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from services.registration.enrollments.service import EnrollmentService
from services.registration.persons.service import PersonService
from shared.auth import PrincipalDep
from shared.db import SessionDep
from shared.outbox import Outbox
from shared.pii import PiiVault, vault_for
from shared.plan_copies import PlanCopies

__all__ = ["EnrollmentServiceDep", "OutboxDep", "PersonServiceDep", "PlanCopiesDep", "PrincipalDep",
           "VaultDep"]


def _outbox(request: Request) -> Outbox:
    found: Outbox = request.app.state.runtime.outbox
    return found


def _vault(request: Request) -> PiiVault:
    return vault_for(request.app.state.runtime.settings)


def _plan_copies(request: Request) -> PlanCopies[Any, Any]:
    found: PlanCopies[Any, Any] = request.app.state.plans
    return found


OutboxDep = Annotated[Outbox, Depends(_outbox)]
VaultDep = Annotated[PiiVault, Depends(_vault)]
PlanCopiesDep = Annotated[PlanCopies[Any, Any], Depends(_plan_copies)]


def _persons(session: SessionDep, outbox: OutboxDep, vault: VaultDep) -> PersonService:
    return PersonService(session, outbox, vault)


def _enrollments(session: SessionDep, outbox: OutboxDep,
                 plans: PlanCopiesDep) -> EnrollmentService:
    return EnrollmentService(session, outbox, plans.years())


# over the request's session (routers still begin its transaction)
PersonServiceDep = Annotated[PersonService, Depends(_persons)]
EnrollmentServiceDep = Annotated[EnrollmentService, Depends(_enrollments)]
