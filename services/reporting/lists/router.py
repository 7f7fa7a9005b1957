from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.reporting import responses
from services.reporting.access import sees_contact_details
from services.reporting.deps import (
    PlanCopiesDep,
    PrincipalDep,
    SettingsDep,
    UnitOfWorkDep,
    VaultDep,
)
from services.reporting.exports import file_response
from services.reporting.lists import repository, service
from services.reporting.notices import notice_for
from services.reporting.regions import NamedRegionDep
from services.reporting.templating import templates
from shared.api_docs import file_responses
from shared.auth import require_region
from shared.errors import Invalid
from shared.params import PlanYearPath
from shared.text import PlainText

router = APIRouter(prefix="/v1", tags=["lists"])

PlanYear = Annotated[int, Query(ge=2000, le=2100)]


@router.get("/publicity-lists", response_model=None,
            responses=file_responses("csv", "xlsx", "html", model=responses.PublicityList))
async def get_publicity_list(
    request: Request, session: UnitOfWorkDep, region: NamedRegionDep, plan_year: PlanYear,
    plans: PlanCopiesDep, settings: SettingsDep,
    format: Literal["json", "csv", "xlsx", "html"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    """The village's publicity list (公示表), or every village's of a wider region (the
    caller's own when none is given)."""
    data = await service.publicity_list(session, region, plan_year, plans.catalog)
    if format == "json":
        return JSONResponse(data)  # plain values already: skip re-encoding
    table = service.publicity_table(data)
    if format == "html":
        notice = notice_for(settings.publicity_notices, region.code)
        return templates.TemplateResponse(request, "publicity.html",
                                          {"data": data, "table": table, "notice": notice})
    return file_response([table], format)


@router.get("/reminders", response_model=None,
            responses=file_responses("csv", "xlsx", model=responses.ReminderList))
async def get_reminders(
    session: UnitOfWorkDep, region: NamedRegionDep, plan_year: PlanYear, vault: VaultDep,
    principal: PrincipalDep, format: Literal["json", "csv", "xlsx"] = "json",  # noqa: A002
    as_of: dt.date | None = None,
) -> dict[str, Any] | Response:
    """Who still owes, and how much if paid on `as_of` (today). Name, phone, household and
    address in full for the staff who call people (access.sees_contact_details); the masked
    name and phone for everyone else."""
    data = await service.reminder_list(
        session, region, plan_year, vault=vault,
        contacts=sees_contact_details(principal, region.code), as_of=as_of)
    if format == "json":
        return data
    return file_response([service.reminder_table(data)], format)


class ReasonIn(BaseModel):
    reason: Literal["worker_away", "employee_scheme", "died", "enlisted", "insured_elsewhere",
                    "refuses", "other"]
    note: PlainText | None = Field(None, max_length=500)
    recorded_by: PlainText | None = Field(
        None, max_length=100,
        description="ignored: the reason is recorded under the caller's own identity")


@router.post("/reminders/{person_id}/{plan_year}/reason", status_code=200, response_model=None,
             responses={200: {"model": responses.ReminderReason}})
async def post_reason(session: UnitOfWorkDep, principal: PrincipalDep, person_id: str,
                      plan_year: PlanYearPath, body: ReasonIn) -> dict[str, Any]:
    try:
        uuid.UUID(person_id)
    except ValueError:
        raise Invalid("person_id is not a UUID", field="person_id",
                      key="invalid_person_id") from None
    # staff record reasons for people of their own township (or village)
    region = await repository.person_region(session, person_id, plan_year)
    if region is not None:
        require_region(principal, region)
    return await service.record_reason(session, person_id, plan_year, body.reason, body.note,
                                       principal.subject)


@router.get("/funding-applications", response_model=None,
            responses=file_responses("csv", "xlsx", model=responses.FundingApplication))
async def get_funding_applications(
    session: UnitOfWorkDep, region: NamedRegionDep, plan_year: PlanYear, plans: PlanCopiesDep,
    budget_line: str | None = None, include_persons: bool = False,
    as_of: dt.date | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    data = await service.funding_application(
        session, region, plan_year, budget_line,
        include_persons=include_persons, as_of=as_of,
        plans=plans.catalog)
    if format == "json":
        return data
    return file_response(service.funding_tables(data, csv=format == "csv"), format)
