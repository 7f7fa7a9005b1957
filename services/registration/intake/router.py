"""Newborns (registered within 90 days of birth, into a parent's household) and students in
bulk from schools."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from services.registration.common import read_upload, refuse_upload
from services.registration.deps import OutboxDep, PlanCopiesDep, UnitOfWorkDep, VaultDep
from services.registration.enrollments.bounds import (
    beijing_today,
    check_birth_before_year_end,
    check_plan_year,
    check_registered_on,
)
from services.registration.enrollments.repository import EnrollmentRepository
from services.registration.enrollments.schemas import EnrollmentCreate, EnrollmentPublic
from services.registration.enrollments.service import EnrollmentService
from services.registration.persons.schemas import PersonCreate, PersonDetail, PersonUpdate
from services.registration.persons.service import PersonService, parse_or_422
from services.registration.persons.views import detail, require_person_region
from services.registration.scopes import people_in_file, upload_region
from services.registration.uploads import RowError, parse_student_list
from services.registration.uploads.students import STUDENT_SPEC
from shared.auth import current_principal, require_region
from shared.errors import DomainError, Invalid
from shared.text import PersonName

router = APIRouter(tags=["newborns and students"])
NEWBORN_WINDOW_DAYS = 90


class NewbornCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PersonName = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    parent_id_number: str = Field(min_length=15, max_length=18)
    plan_year: int = Field(ge=2000, le=2100)
    registered_on: dt.date | None = None
    phone: str | None = Field(None, pattern=r"^\+?[0-9\-]{5,20}$")


class NewbornResult(BaseModel):
    person: PersonDetail
    enrollment: EnrollmentPublic
    days_after_birth: int


class LateRegistration(DomainError):
    status_code = 422
    code = "newborn_registration_late"


@router.post("/v1/newborns", status_code=status.HTTP_201_CREATED, response_model=NewbornResult)
async def register_newborn(body: NewbornCreate, request: Request,
                           session: UnitOfWorkDep, vault: VaultDep, outbox: OutboxDep,
                           plans: PlanCopiesDep) -> NewbornResult:
    child = parse_or_422(body.id_number)
    check_plan_year(body.plan_year, known=plans.years())
    check_birth_before_year_end(child.birth_date, body.plan_year)
    check_registered_on(body.registered_on, body.plan_year)
    registered_on = body.registered_on or beijing_today()
    days = (registered_on - child.birth_date).days
    if days < 0:
        raise Invalid("registered_on is before the birth date in the ID number",
                      field="registered_on", code="registered_before_birth")
    if days > NEWBORN_WINDOW_DAYS:
        raise LateRegistration(
            f"born {child.birth_date.isoformat()}, registered {days} days later: newborn "
            f"registration (covered from birth) is only possible within {NEWBORN_WINDOW_DAYS} "
            "days of birth; register the child as an ordinary resident (POST /v1/persons)",
            params={"days": days, "limit": NEWBORN_WINDOW_DAYS})
    parent_ident = parse_or_422(body.parent_id_number)
    persons = PersonService(session, outbox, vault)
    parent = await persons.repo.by_hash(vault.lookup_hashes(parent_ident.value))
    if parent is None:
        raise Invalid("the parent is not registered; register the parent first",
                      field="parent_id_number", code="parent_not_registered")
    # the child is registered where the parent is: staff of that township only
    require_person_region(current_principal(request), parent)
    if parent.household_id is None or parent.township_code is None:
        raise Invalid("the parent has no household (户) on file; set the parent's "
                      "household_no first", field="parent_id_number",
                      code="parent_without_household")
    person = await persons.register(PersonCreate(
        id_number=child.value, name=body.name, phone=body.phone or parent.phone,
        township_code=parent.township_code, village_code=parent.village_code,
        relation_to_head="子" if child.sex == "male" else "女",
        hukou_region_code=parent.hukou_region_code,
    ), household_id=parent.household_id)
    enrollment = await EnrollmentService(session, outbox).enroll(EnrollmentCreate(
        person_id=person.id, plan_year=body.plan_year, insured_category="minor",
        registered_on=registered_on))
    return NewbornResult(person=detail(person, current_principal(request)),
                         enrollment=EnrollmentPublic(**enrollment.__dict__),
                         days_after_birth=days)


class StudentUploadResult(BaseModel):
    status: str
    registered: int
    updated: int
    enrolled: int
    already_enrolled: int


@router.post("/v1/students/upload", response_model=StudentUploadResult)
async def upload_students(request: Request, session: UnitOfWorkDep, vault: VaultDep,
                          outbox: OutboxDep, plans: PlanCopiesDep, file: UploadFile = File(...),
                          plan_year: int = Form(ge=2000, le=2100),
                          township_code: str = Form(pattern=r"^\d{12}$"),
                          registered_on: dt.date | None = Form(None)) -> StudentUploadResult:
    """A school's student list (学生参保名单): each student registered (non-local students under
    the school's township, 户籍 from the ID number's region) or updated with the school, and
    enrolled as a student for the plan year. Applied whole or not at all. The school's
    township must lie in the caller's region, and so must every registered person the file
    names: a row naming someone registered elsewhere refuses the file (403 forbidden_region
    rows, nothing applied; the name registered there is not told)."""
    principal = current_principal(request)
    require_region(principal, township_code)
    check_plan_year(plan_year, known=plans.years())
    check_registered_on(registered_on, plan_year)
    region = upload_region(principal, None)
    content = await read_upload(file)
    persons = PersonService(session, outbox, vault)
    enrollments = EnrollmentService(session, outbox, plans.years())
    counts = {"registered": 0, "updated": 0, "enrolled": 0, "already_enrolled": 0}
    people = await people_in_file(session, vault, content, STUDENT_SPEC,
                                  file.filename, region)
    parsed = parse_student_list(content, filename=file.filename, name_of=people.name_of)
    errors: list[RowError] = people.screen(parsed.errors)
    for row in [] if errors else parsed.rows:
        person = await persons.repo.by_hash(vault.lookup_hashes(row.id_number))
        if person is None:
            person = await persons.register(PersonCreate(
                id_number=row.id_number, name=row.name, phone=row.phone,
                township_code=township_code, hukou_region_code=row.id_number[:6],
                school=row.school, household_no=row.household_number))
            counts["registered"] += 1
        elif person.school != row.school:
            person = await persons.update(person.id, PersonUpdate(school=row.school))
            counts["updated"] += 1
        existing = await EnrollmentRepository(session).get(person.id, plan_year)
        if existing is not None and existing.status == "registered":
            counts["already_enrolled"] += 1
            continue
        try:
            await enrollments.enroll(EnrollmentCreate(
                person_id=person.id, plan_year=plan_year, insured_category="student",
                registered_on=registered_on))
            counts["enrolled"] += 1
        except DomainError as exc:
            errors.append(RowError(row.row_number, "身份证号", person.id_number_masked,
                                   exc.message, exc.code))
    if errors:
        raise await refuse_upload(request, "students", file.filename,
                                  parsed.content_sha256, errors, region_code=region)
    return StudentUploadResult(status="applied", **counts)


__all__ = ["router", "uuid"]
