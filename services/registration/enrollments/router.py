from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from services.registration.deps import EnrollmentServiceDep, UnitOfWorkDep
from services.registration.enrollments.schemas import (
    EnrollmentCreate,
    EnrollmentPublic,
    EnrollmentStop,
    RolloverRequest,
    RolloverResult,
)
from services.registration.persons.repository import PersonRepository
from services.registration.persons.views import require_person_region, sees_person
from shared.auth import NATIONAL, current_principal, require_region
from shared.errors import NotFound
from shared.params import PlanYearPath

router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnrollmentPublic)
async def enroll(body: EnrollmentCreate, request: Request, session: UnitOfWorkDep,
                 enrollments: EnrollmentServiceDep) -> EnrollmentPublic:
    principal = current_principal(request)
    person = await PersonRepository(session).get(body.person_id, for_update=True)
    if person is not None:
        require_person_region(principal, person)
    e = await enrollments.enroll(body)
    return EnrollmentPublic(**e.__dict__)


@router.post("/rollover", response_model=RolloverResult)
async def rollover(body: RolloverRequest, request: Request, session: UnitOfWorkDep,
                   enrollments: EnrollmentServiceDep) -> RolloverResult:
    """Enroll last year's registered enrollees (存量人员) in the new plan year, in bulk: of one
    county, or (county_code left out) of every county, which needs a nationwide region."""
    require_region(current_principal(request), body.county_code or NATIONAL)
    n = await enrollments.rollover(body.from_year, body.to_year,
                                   body.county_code, body.registered_on)
    return RolloverResult(from_year=body.from_year, to_year=body.to_year,
                          county_code=body.county_code, enrolled=n)


@router.get("/{person_id}/{plan_year}", response_model=EnrollmentPublic)
async def get_enrollment(person_id: uuid.UUID, plan_year: PlanYearPath, request: Request,
                         session: UnitOfWorkDep,
                         enrollments: EnrollmentServiceDep) -> EnrollmentPublic:
    """404 enrollment_not_found for people registered outside the caller's region too."""
    principal = current_principal(request)
    if not principal.sees_all_regions and not sees_person(
            principal, await PersonRepository(session).get(person_id)):
        raise NotFound("no such enrollment", code="enrollment_not_found")
    e = await enrollments.get(person_id, plan_year)
    return EnrollmentPublic(**e.__dict__)


@router.post("/{person_id}/{plan_year}/stop", response_model=EnrollmentPublic)
async def stop_enrollment(person_id: uuid.UUID, plan_year: PlanYearPath, body: EnrollmentStop,
                          request: Request, session: UnitOfWorkDep,
                          enrollments: EnrollmentServiceDep) -> EnrollmentPublic:
    principal = current_principal(request)
    person = await PersonRepository(session).get(person_id, for_update=True)
    if person is not None:
        require_person_region(principal, person)
    e = await enrollments.stop(person_id, plan_year, body)
    return EnrollmentPublic(**e.__dict__)
