from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel

from services.registration.common import (
    decode_cursor,
    encode_cursor,
    read_upload,
    refuse_upload,
    vault,
)
from services.registration.reference.service import ReferenceService
from shared.db import SessionDep
from shared.errors import Invalid
from shared.idnumber import mask_name

router = APIRouter(tags=["reference data"])
Kind = Literal["household_register", "employee_pension", "employee_insurance",
               "township_population"]


class ReferenceResult(BaseModel):
    kind: str
    status: Literal["applied", "unchanged"]
    rows: int


@router.post("/v1/reference/{kind}", response_model=ReferenceResult)
async def upload_reference(kind: Kind, request: Request, session: SessionDep,
                           file: UploadFile = File(...),
                           county_code: str | None = Form(None, pattern=r"^\d{6}$"),
                           year: int | None = Form(None, ge=2000, le=2100)) -> ReferenceResult:
    """Replace one kind of reference data with this file, whole or not at all."""
    content = await read_upload(file)
    service = ReferenceService(session, vault(request))
    async with session.begin():
        if kind == "township_population":
            if county_code is None:
                raise Invalid("county_code is required for township_population",
                              field="county_code", code="missing_county")
            status, n, errors = await service.replace_population(content, file.filename,
                                                                 county_code, year)
        else:
            status, n, errors = await service.replace_persons(kind, content, file.filename)
        if errors:
            raise await refuse_upload(request, f"reference:{kind}", file.filename, None, errors)
    return ReferenceResult(kind=kind, status=status, rows=n)  # type: ignore[arg-type]


class MissingPerson(BaseModel):
    id_number_masked: str
    name_masked: str
    household_number: str | None
    village_code: str | None
    person_id: uuid.UUID | None
    reason: str


class MissingPage(BaseModel):
    village_code: str
    plan_year: int
    items: list[MissingPerson]
    next_cursor: str | None


@router.get("/v1/missing", response_model=MissingPage)
async def missing(request: Request, session: SessionDep,
                  village_code: str = Query(pattern=r"^\d{12}$"),
                  plan_year: int = Query(ge=2000, le=2100), cursor: str | None = None,
                  limit: int = Query(100, ge=1, le=1000)) -> MissingPage:
    """People in the household register of this village, alive and not in the employee
    scheme or drawing an employee pension, who have no registered enrollment for the year."""
    rows = await ReferenceService(session, vault(request)).missing(
        village_code, plan_year, decode_cursor(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return MissingPage(village_code=village_code, plan_year=plan_year, items=[
        MissingPerson(id_number_masked=r[1], name_masked=mask_name(r[2]), household_number=r[3],
                      village_code=r[4], person_id=r[5], reason=r[6]) for r in rows],
        next_cursor=encode_cursor(rows[-1][0]) if more else None)


class DuplicatePerson(BaseModel):
    person_id: uuid.UUID
    id_number_masked: str
    name_masked: str
    village_code: str | None
    township_code: str | None
    employer: str | None


class DuplicatePage(BaseModel):
    plan_year: int
    items: list[DuplicatePerson]
    next_cursor: str | None


@router.get("/v1/duplicates", response_model=DuplicatePage)
async def duplicates(request: Request, session: SessionDep,
                     plan_year: int = Query(ge=2000, le=2100),
                     county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                     village_code: str | None = Query(None, pattern=r"^\d{12}$"),
                     cursor: str | None = None,
                     limit: int = Query(100, ge=1, le=1000)) -> DuplicatePage:
    """Enrolled here for the year and also an active employee-scheme enrollee (重复参保)."""
    rows = await ReferenceService(session, vault(request)).duplicates(
        plan_year, county_code, village_code, decode_cursor(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return DuplicatePage(plan_year=plan_year, items=[
        DuplicatePerson(person_id=r[0], id_number_masked=r[1], name_masked=mask_name(r[2]),
                        village_code=r[3], township_code=r[4], employer=r[5]) for r in rows],
        next_cursor=encode_cursor(str(rows[-1][0])) if more else None)
