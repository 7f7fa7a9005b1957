from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field

from kernels.regions import load_regions
from services.registration.common import (
    decode_cursor,
    encode_cursor,
    read_upload,
    refuse_upload,
)
from services.registration.deps import UnitOfWorkDep, VaultDep
from services.registration.reference.service import ReferenceService
from services.registration.scopes import upload_region
from shared.auth import current_principal, require_region
from shared.errors import Invalid, NotFound
from shared.idnumber import MaskedIdNumber, mask_name

router = APIRouter(tags=["reference data"])
Kind = Literal["household_register", "employee_pension", "employee_insurance",
               "township_population"]


class ReferenceResult(BaseModel):
    kind: str
    region_code: str
    status: Literal["applied", "unchanged"]
    rows: int


@router.post("/v1/reference/{kind}", response_model=ReferenceResult)
async def upload_reference(kind: Kind, request: Request, session: UnitOfWorkDep,
                           vault: VaultDep,
                           file: UploadFile = File(...),
                           county_code: str | None = Form(None, pattern=r"^\d{6}$"),
                           region_code: str | None = Form(None, pattern=r"^(\d{6}|\d{12})$"),
                           year: int | None = Form(None, ge=2000, le=2100)) -> ReferenceResult:
    """Replace one kind of reference data of one region with this file, whole or not at all.
    The region is `region_code` (else `county_code`), inside the caller's region, else the
    caller's own region: each region keeps its own lists (a county's upload never touches
    another county's). Every row must lie in that region (403 forbidden_region rows
    otherwise); the township population table is of `county_code`."""
    principal = current_principal(request)
    if county_code is not None:
        require_region(principal, county_code)
    region = upload_region(principal, region_code or county_code,
                           "region_code" if region_code else "county_code")
    content = await read_upload(file)
    service = ReferenceService(session, vault)
    if kind == "township_population":
        if county_code is None:
            raise Invalid("county_code is required for township_population",
                          field="county_code", code="missing_county")
        status, n, errors = await service.replace_population(content, file.filename,
                                                             county_code, year)
    else:
        status, n, errors = await service.replace_persons(kind, content, file.filename,
                                                          region=region)
    if errors:
        raise await refuse_upload(request, f"reference:{kind}", file.filename, None, errors,
                                  region_code=region)
    return ReferenceResult(kind=kind, region_code=region, status=status,  # type: ignore[arg-type]
                           rows=n)


class MissingPerson(BaseModel):
    id_number_masked: MaskedIdNumber
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
async def missing(request: Request, session: UnitOfWorkDep, vault: VaultDep,
                  village_code: str = Query(pattern=r"^\d{12}$"),
                  plan_year: int = Query(ge=2000, le=2100), cursor: str | None = None,
                  limit: int = Query(100, ge=1, le=1000)) -> MissingPage:
    """People in the household register of this village, alive and not in the employee
    scheme or drawing an employee pension, who have no registered enrollment for the year."""
    rows = await ReferenceService(session, vault).missing(
        village_code, plan_year, decode_cursor(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return MissingPage(village_code=village_code, plan_year=plan_year, items=[
        MissingPerson(id_number_masked=r[1], name_masked=mask_name(r[2]), household_number=r[3],
                      village_code=r[4], person_id=r[5], reason=r[6]) for r in rows],
        next_cursor=encode_cursor(rows[-1][0]) if more else None)


class TownshipCoverage(BaseModel):
    township_code: str
    name: str
    population: int | None
    resident_population: int | None
    registered_persons: int
    enrolled_persons: int
    registration_rate: float | None
    coverage_rate: float | None
    not_enrolled: int | None


class CoveragePage(BaseModel):
    county_code: str
    plan_year: int
    population_year: int | None
    items: list[TownshipCoverage]
    total: TownshipCoverage


def _rate(part: int, whole: int | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _coverage_row(code: str, name: str, population: int | None, resident: int | None,
                  registered: int, enrolled: int) -> TownshipCoverage:
    return TownshipCoverage(
        township_code=code, name=name, population=population, resident_population=resident,
        registered_persons=registered, enrolled_persons=enrolled,
        registration_rate=_rate(registered, population), coverage_rate=_rate(enrolled, population),
        not_enrolled=max(population - enrolled, 0) if population is not None else None)


@router.get("/v1/missing/townships", response_model=CoveragePage)
async def missing_by_township(request: Request, session: UnitOfWorkDep, vault: VaultDep,
                              plan_year: int = Query(ge=2000, le=2100),
                              county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                              township_code: str | None = Query(None, pattern=r"^\d{12}$"),
                              population_year: int | None = Query(None, ge=2000, le=2100),
                              ) -> CoveragePage:
    """Who is missing, counted per township (参保率): the statistics bureau's household-register
    population (户籍人口, reference data `township_population`) next to the persons registered
    here and those enrolled for the plan year. `registration_rate` and `coverage_rate` are
    those counts over the population; `not_enrolled` is the population not enrolled. The
    population year is the latest up to the plan year unless `population_year` is given;
    `total` has a population only when every township has one."""
    tree = load_regions()
    township = tree.get(township_code) if township_code else None
    if township_code and (township is None or township.level != "township"):
        raise NotFound(f"no township {township_code}", code="unknown_township",
                       params={"code": township_code})
    county = township.code[:6] if township else county_code
    if county is None:
        raise Invalid("county_code or township_code is required", field="county_code",
                      code="missing_county")
    if county_code is not None and county != county_code:
        raise Invalid(f"township {township_code} is not in county {county_code}",
                      field="township_code", code="township_outside_county",
                      params={"township": township_code, "county": county_code})
    region = tree.get(county)
    if region is None or region.level != "county":
        raise NotFound(f"no county {county}", code="unknown_county", params={"code": county})
    year, rows = await ReferenceService(session, vault).coverage(
        county, plan_year, township.code if township else None, population_year)
    items = [_coverage_row(r.township_code, r.name, r.population, r.resident_population,
                           r.registered_persons, r.enrolled_persons) for r in rows]
    complete = all(r.population is not None for r in rows)  # else no county-wide rate
    total = _coverage_row(
        township.code if township else county, township.name if township else region.name,
        sum(r.population or 0 for r in rows) if complete else None,
        sum(r.resident_population or 0 for r in rows)
        if complete and all(r.resident_population is not None for r in rows) else None,
        sum(r.registered_persons for r in rows), sum(r.enrolled_persons for r in rows))
    return CoveragePage(county_code=county, plan_year=plan_year, population_year=year,
                        items=items, total=total)


class DuplicatePerson(BaseModel):
    person_id: uuid.UUID
    id_number_masked: MaskedIdNumber
    name_masked: str
    village_code: str | None
    township_code: str | None
    employer: str | None
    employee_scheme: Literal["employee_insurance", "employee_pension"] = Field(
        description="on which list the person is: an employee-scheme enrollee (职工医保参保人员) "
        "or an employee pensioner (职工养老金领取人员, insured in the employee scheme)")


class DuplicatePage(BaseModel):
    plan_year: int
    items: list[DuplicatePerson]
    next_cursor: str | None


@router.get("/v1/duplicates", response_model=DuplicatePage)
async def duplicates(request: Request, session: UnitOfWorkDep, vault: VaultDep,
                     plan_year: int = Query(ge=2000, le=2100),
                     county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                     village_code: str | None = Query(None, pattern=r"^\d{12}$"),
                     cursor: str | None = None,
                     limit: int = Query(100, ge=1, le=1000)) -> DuplicatePage:
    """Enrolled here for the year and also an active employee-scheme enrollee or employee
    pensioner (重复参保), on any region's list.
    Only people registered inside the caller's region (whatever the filters)."""
    rows = await ReferenceService(session, vault).duplicates(
        plan_year, county_code, village_code,
        decode_cursor(cursor, lambda v: str(uuid.UUID(v))), limit + 1,
        region_prefix=current_principal(request).region_filter)
    more = len(rows) > limit
    rows = rows[:limit]
    return DuplicatePage(plan_year=plan_year, items=[
        DuplicatePerson(person_id=r[0], id_number_masked=r[1], name_masked=mask_name(r[2]),
                        village_code=r[3], township_code=r[4], employer=r[5],
                        employee_scheme=r[6]) for r in rows],
        next_cursor=encode_cursor(str(rows[-1][0])) if more else None)
