"""Reporting's typed dependencies: what routers are given instead of reading
`request.app.state`.

- `PlanCopiesDep`: the plans reporting holds a copy of (`catalog`: read it where it is used,
  it is replaced when plans change).
- `PrincipalDep`: the authenticated caller (the app-wide access check has run).
- `SettingsDep`: the service's settings; `VaultDep`: the PII vault that opens sealed contacts.
- `UnitOfWorkDep`: the request's session in one transaction, begun when the route first touches
  the database and committed once when the route function returns, before the answer is sent;
  rolled back when the route raises. Routers that take it never open or commit transactions.
- `ReadSessionDep`: a session in autocommit, for views whose figures are read in one
  statement (progress): no BEGIN/COMMIT round trips, and one statement is one snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import PrincipalDep
from shared.db import ReadSessionDep, SessionDep
from shared.pii import PiiVault, vault_for
from shared.plan_copies import PlanCopies
from shared.settings import Settings

__all__ = ["PlanCopiesDep", "PrincipalDep", "ReadSessionDep", "SettingsDep", "UnitOfWorkDep",
           "VaultDep"]


def _plan_copies(request: Request) -> PlanCopies[Any, Any]:
    found: PlanCopies[Any, Any] = request.app.state.plans
    return found


PlanCopiesDep = Annotated[PlanCopies[Any, Any], Depends(_plan_copies)]


def _settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


SettingsDep = Annotated[Settings, Depends(_settings)]


def _vault(settings: SettingsDep) -> PiiVault:
    return vault_for(settings)


VaultDep = Annotated[PiiVault, Depends(_vault)]


async def _unit_of_work(session: SessionDep) -> AsyncIterator[AsyncSession]:
    async with session.begin():
        yield session


# scope="function": the transaction ends when the route function returns, before the answer
UnitOfWorkDep = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]
