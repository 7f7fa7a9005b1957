from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from services.eligibility.deps import (
    EngineDep,
    PlanDraftReadsDep,
    PlanDraftsDep,
    PlanRepositoryDep,
    PlansDep,
)
from services.eligibility.plans.changes import change_report
from services.eligibility.plans.registry import source_of
from services.eligibility.plans.responses import (
    Draft,
    DraftDetail,
    Drafts,
    DraftSimulation,
    DraftWithDiff,
    Publication,
    PublicationChanges,
    PublicationHistory,
)
from shared.api_docs import file_responses
from shared.auth import current_principal
from shared.downloads import attachment
from shared.errors import NotFound
from shared.params import PlanYearPath

router = APIRouter(prefix="/v1/plans", tags=["plans"])
PEOPLE_IN_JSON, PEOPLE_IN_FILE = 10_000, 2_000_000
# a plan's region: a county, city or province (6 digits); malformed answers 422
PlanRegionPath = Annotated[str, Path(pattern=r"^\d{6}$")]


class DraftUpload(BaseModel):
    plan: str | dict[str, Any] = Field(
        description="the plan: YAML text (problems are named by line), or the same content as "
                    "JSON; the policy file schema")


class Publish(BaseModel):
    effective_on: dt.date | None = Field(
        None, description="the first day (Beijing) the plan is in force; today if not given")


class Republish(Publish):
    publication: int = Field(ge=1, description="the earlier publication to publish again")


@router.get("")
async def list_plans(plan_rows: PlanRepositoryDep, registry: PlansDep) -> dict[str, Any]:
    """Every plan version ever loaded; `active` marks the one in force for its region and year."""
    rows = await plan_rows.versions()
    active = {p.version for p in registry.catalog}
    return {"plans": [
        {"region_code": r["region_code"], "plan_year": r["plan_year"], "version": r["version"],
         "source": r["source"], "loaded_at": r["loaded_at"].isoformat(),
         "active": r["version"] in active}
        for r in rows
    ]}


@router.post("/drafts", status_code=status.HTTP_201_CREATED, response_model=DraftWithDiff)
async def upload_draft(body: DraftUpload, request: Request,
                       drafts: PlanDraftsDep) -> dict[str, Any]:
    """A policy officer uploads a draft plan for a region and year. Every problem is answered
    at once (422, `problems`: line, field, Chinese message); warnings are kept with the draft.
    The answer carries the diff against the version in force, in money terms."""
    return await drafts.upload(body.plan, current_principal(request))


@router.get("/drafts", response_model=Drafts)
async def list_drafts(request: Request, drafts: PlanDraftsDep,
                      region_code: str | None = Query(None, pattern=r"^\d{6}$"),
                      plan_year: int | None = None) -> dict[str, Any]:
    return {"drafts": await drafts.list(current_principal(request), region_code, plan_year)}


@router.get("/drafts/{draft_id}", response_model=DraftDetail)
async def get_draft(draft_id: uuid.UUID, request: Request,
                    drafts: PlanDraftsDep) -> dict[str, Any]:
    """The draft, its warnings, who wrote and approved it, and its diff against the plan in
    force."""
    return await drafts.get(draft_id, current_principal(request))


@router.post("/drafts/{draft_id}/simulation", response_model=None,
             responses=file_responses("csv", model=DraftSimulation))
async def simulate_draft(draft_id: uuid.UUID, request: Request, drafts: PlanDraftReadsDep,
                         engine: EngineDep,
                         format: Literal["json", "csv"] = "json") -> dict[str, Any] | Response:
    """Head count and money per budget line and township under the draft, against the plan in
    force, and the people whose own contribution changes (`format=csv`: all of them, as a
    file: person id, township, amount now, amount under the draft, difference, in fen);
    nothing is stored."""
    out = await drafts.simulate(draft_id, current_principal(request), engine,
                                PEOPLE_IN_FILE if format == "csv" else PEOPLE_IN_JSON)
    if format == "json":
        return out
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["人员ID person_id", "乡镇 township_code", "现行方案个人缴费（分）",
                     "草案个人缴费（分）", "差额（分）"])
    for row in out["people"]:
        writer.writerow([row["person_id"], row["township_code"] or "",
                         row["current_personal_fen"], row["draft_personal_fen"],
                         row["difference_fen"]])
    name = f"方案草案测算-{out['region_code']}-{out['plan_year']}年度-{draft_id}.csv"
    return Response(("\ufeff" + buf.getvalue()).encode("utf-8"), media_type="text/csv",
                    headers=attachment(name))


@router.post("/drafts/{draft_id}/approve", response_model=Draft)
async def approve_draft(draft_id: uuid.UUID, request: Request,
                        drafts: PlanDraftsDep) -> dict[str, Any]:
    """A second officer approves the draft; its author cannot (403 four_eyes)."""
    return await drafts.approve(draft_id, current_principal(request))


@router.post("/drafts/{draft_id}/publish", response_model=Publication)
async def publish_draft(draft_id: uuid.UUID, body: Publish, request: Request,
                        drafts: PlanDraftsDep) -> dict[str, Any]:
    """Publish an approved draft, in force from `effective_on`: sent as `eligibility.plan.v1`.
    Publishing for a year that already has a plan is a correction: the region's enrolled
    population is re-determined (the catalog takes the publication in once it is committed)."""
    return await drafts.publish(draft_id, current_principal(request), body.effective_on)


@router.get("/{region_code}/{plan_year}/history", response_model=PublicationHistory)
async def plan_history(region_code: PlanRegionPath, plan_year: PlanYearPath,
                       drafts: PlanDraftsDep) -> dict[str, Any]:
    """Every publication for the region and year: version, who wrote, approved and published
    it and when, the day it took effect, which is in force."""
    return {"region_code": region_code, "plan_year": plan_year,
            "publications": await drafts.history(region_code, plan_year)}


@router.post("/{region_code}/{plan_year}/republish", response_model=Publication)
async def republish(region_code: PlanRegionPath, plan_year: PlanYearPath, body: Republish,
                    request: Request, drafts: PlanDraftsDep) -> dict[str, Any]:
    """Publish an earlier version again (a new publication; nothing is edited in place)."""
    return await drafts.republish(region_code, plan_year, body.publication,
                                  current_principal(request), body.effective_on)


@router.get("/{region_code}/{plan_year}/publications/{publication}/changes",
            response_model=None, responses=file_responses("csv", model=PublicationChanges))
async def publication_changes(region_code: PlanRegionPath, plan_year: PlanYearPath, publication: int,
                              plan_rows: PlanRepositoryDep,
                              format: Literal["json", "csv"] = "json",
                              ) -> dict[str, Any] | Response:
    """What a correction changed for the people determined under the version it replaced:
    who owes more or less, refunds due to those who had paid more, subsidies added and
    withdrawn per budget line (`format=csv`: the people, as a file)."""
    out = await change_report(plan_rows, region_code, plan_year, publication,
                              people_limit=PEOPLE_IN_FILE if format == "csv" else PEOPLE_IN_JSON)
    if format == "json":
        return out
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["人员ID person_id", "乡镇 township_code", "更正前个人缴费（分）",
                     "更正后个人缴费（分）", "差额（分）", "已缴（分）", "应退（分）"])
    for row in out["people"]:
        writer.writerow([row["person_id"], row["township_code"] or "",
                         row["before_personal_fen"], row["after_personal_fen"],
                         row["difference_fen"], row["paid_fen"], row["refund_due_fen"]])
    name = f"方案更正影响-{region_code}-{plan_year}年度-第{publication}次发布.csv"
    return Response(("\ufeff" + buf.getvalue()).encode("utf-8"), media_type="text/csv",
                    headers=attachment(name))


@router.get("/{region_code}/{plan_year}")
async def get_plan(plan_year: PlanYearPath, plans: PlansDep,
                   region_code: str = Path(pattern=r"^\d{6}$")) -> dict[str, Any]:
    """The plan that applies to a region (its own, its city's or its province's) and year."""
    policy = plans.find(region_code, plan_year)
    if policy is None:
        raise NotFound(f"no plan for region {region_code} and plan year {plan_year}",
                       params={"region_code": region_code, "plan_year": plan_year},
                       code="plan_not_found")
    return {
        "region_code": policy.region_code, "region_name": policy.region_name,
        "requested_region_code": region_code, "plan_year": policy.plan_year,
        "version": policy.version, "source": source_of(policy), "content": policy.raw,
    }
