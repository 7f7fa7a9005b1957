"""Group memberships one at a time (certified name lists arrive in bulk through uploads).

A department officer acts as its lists uploads do: only for its own department, only on the
groups its department certifies in the person's region (`certifiable_in`: the national table
unless the region's plan assigns a group to another department, as a list upload checks each
row), and never on a membership recorded for another department (403 forbidden_department).
The bureau and system callers may name any known department, or none."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from kernels.codes import GroupCode
from services.registration.deps import OutboxDep, UnitOfWorkDep
from services.registration.memberships.service import MembershipService
from services.registration.persons.repository import PersonRepository
from services.registration.persons.views import person_region, require_person_region
from services.registration.uploads.categories import canonical_department
from services.registration.uploads.certifiers import certifiable_in
from shared.auth import Principal, current_principal, require_department
from shared.errors import Forbidden, Invalid
from shared.i18n import TextError

router = APIRouter(prefix="/v1/persons/{person_id}/groups", tags=["group memberships"])

class MembershipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_code: GroupCode
    certified_on: dt.date | None = None
    ends_on: dt.date | None = None
    later_birth_on: dt.date | None = None
    department: str | None = Field(
        None, max_length=64, description="the certifying department (civil_affairs, ...); "
        "a department officer's own when left out")

    @field_validator("ends_on")
    @classmethod
    def _ends_after_certified(cls, value: dt.date | None,
                              info: ValidationInfo) -> dt.date | None:
        certified = info.data.get("certified_on")
        if value is not None and certified is not None and value < certified:
            raise TextError("终止日期早于认定日期", "a membership cannot end before it was "
                            "certified")
        return value


class MembershipPublic(BaseModel):
    person_id: uuid.UUID
    group_code: str
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None


async def _check_region(request: Request, session: UnitOfWorkDep,
                        person_id: uuid.UUID) -> str | None:
    """Departments and the bureau certify people of their own region only (404 stays 404).
    The person's region, None when there is no such person."""
    person = await PersonRepository(session).get(person_id, for_update=True)
    if person is None:
        return None
    require_person_region(current_principal(request), person)
    return person_region(person)


async def _check_department(principal: Principal, service: MembershipService,
                            person_id: uuid.UUID, group_code: str, region: str | None) -> None:
    """A department officer: only groups its department certifies in the person's region,
    never a membership recorded for another department (other callers pass)."""
    if principal.role != "department_officer":
        return
    assert principal.department is not None
    if group_code not in certifiable_in(region, principal.department):
        raise Forbidden(f"{principal.department} does not certify {group_code}",
                        code="forbidden_department", details={"group_code": group_code})
    recorded = await service.recorded_department(person_id, group_code)
    if recorded is not None:
        require_department(principal, recorded)


def _department(principal: Principal, given: str | None) -> str | None:
    """The department the membership is recorded for: the one given (known, canonical; a
    department officer's own only), else a department officer's own."""
    if given is None:
        return principal.department
    try:
        department = canonical_department(given)
    except ValueError as exc:
        raise Invalid(str(exc), field="department", code="unknown_department",
                      params={"department": given}) from None
    require_department(principal, department)
    return department


@router.put("", status_code=status.HTTP_200_OK, response_model=MembershipPublic)
async def certify(person_id: uuid.UUID, body: MembershipCreate, request: Request,
                  session: UnitOfWorkDep, outbox: OutboxDep) -> MembershipPublic:
    principal = current_principal(request)
    body = body.model_copy(update={"department": _department(principal, body.department)})
    region = await _check_region(request, session, person_id)
    service = MembershipService(session, outbox)
    await _check_department(principal, service, person_id, body.group_code, region)
    await service.put(person_id, body)
    return MembershipPublic(person_id=person_id, **body.model_dump(exclude={"department"}))


@router.delete("/{group_code}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke(person_id: uuid.UUID, group_code: GroupCode, request: Request,
                 session: UnitOfWorkDep, outbox: OutboxDep) -> None:
    region = await _check_region(request, session, person_id)
    service = MembershipService(session, outbox)
    await _check_department(current_principal(request), service, person_id, group_code,
                            region)
    await service.remove(person_id, group_code)
