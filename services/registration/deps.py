"""Registration's typed dependencies: what routers are given instead of reading
`request.app.state`.

- `OutboxDep`: the service's outbox.
- `VaultDep`: the PII vault (identity numbers sealed and opened), from the service's settings.
- `PlanCopiesDep`: the plans registration holds a copy of (`years()`: the plan years known).
- `PrincipalDep`: the authenticated caller (the app-wide access check has run).
- `UnitOfWorkDep`: the request's session in one transaction, begun when the route first touches
  the database and committed once when the route function returns, before the answer is sent
  (a failed commit answers as an error, never as success); rolled back when the route raises.
  Routers that take it never open or commit transactions themselves.
- `PersonServiceDep`, `EnrollmentServiceDep`: the services over the request's session (inside
  the unit of work when the route takes one; routers not moved yet still begin the
  transaction themselves).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.registration.enrollments.service import EnrollmentService
from services.registration.persons.service import PersonService
from shared.auth import PrincipalDep
from shared.db import SessionDep
from shared.outbox import Outbox
from shared.pii import PiiVault, vault_for
from shared.plan_copies import PlanCopies

__all__ = ["EnrollmentServiceDep", "OutboxDep", "PersonServiceDep", "PlanCopiesDep", "PrincipalDep",
           "UnitOfWorkDep", "VaultDep"]


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


async def _unit_of_work(session: SessionDep) -> AsyncIterator[AsyncSession]:
    async with session.begin():
        yield session


# scope="function": the transaction ends when the route function returns, before the answer
UnitOfWorkDep = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]


def _persons(session: SessionDep, outbox: OutboxDep, vault: VaultDep) -> PersonService:
    return PersonService(session, outbox, vault)


def _enrollments(session: SessionDep, outbox: OutboxDep,
                 plans: PlanCopiesDep) -> EnrollmentService:
    return EnrollmentService(session, outbox, plans.years())


# over the request's session (routers still begin its transaction)
PersonServiceDep = Annotated[PersonService, Depends(_persons)]
EnrollmentServiceDep = Annotated[EnrollmentService, Depends(_enrollments)]
