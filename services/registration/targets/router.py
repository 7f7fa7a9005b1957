"""Township enrollment targets (参保任务数) per plan year."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from services.registration import events
from services.registration.common import read_upload, refuse_upload
from services.registration.deps import OutboxDep, UnitOfWorkDep
from services.registration.targets.repository import TargetRepository
from services.registration.targets.service import parse_targets, set_targets
from shared.auth import NATIONAL, current_principal, region_prefix, require_region

router = APIRouter(prefix="/v1/targets", tags=["targets"])


class TargetSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: int = Field(ge=0, le=100_000_000)


class TargetPublic(BaseModel):
    plan_year: int
    township_code: str
    target: int


@router.put("/{plan_year}/{township_code}", response_model=TargetPublic)
async def set_target(
    body: TargetSet, request: Request, session: UnitOfWorkDep, outbox: OutboxDep,
    plan_year: int = Path(ge=2000, le=2100),
    township_code: str = Path(pattern=r"^\d{12}$"),
) -> TargetPublic:
    await TargetRepository(session).put(plan_year, township_code, body.target)
    await outbox.add(
        session, events.TargetSet(plan_year=plan_year, township_code=township_code,
                                  county_code=township_code[:6], target=body.target),
        subject=township_code)
    return TargetPublic(plan_year=plan_year, township_code=township_code, target=body.target)


class TargetList(BaseModel):
    """乡镇参保任务 (全部, 不分页) / every township's target (unpaged)."""

    items: list[TargetPublic]


@router.get("/{plan_year}", response_model=TargetList)
async def list_targets(request: Request, session: UnitOfWorkDep,
                       plan_year: int = Path(ge=2000, le=2100),
                       county_code: str | None = Query(None, pattern=r"^\d{6}$"),
                       ) -> TargetList:
    """The townships' targets of the county (inside the caller's region), or, left out, of the
    caller's own region."""
    region = county_code or current_principal(request).region or NATIONAL
    prefix = region_prefix(region) or ""
    rows = await TargetRepository(session).under(plan_year, prefix)
    return TargetList(items=[TargetPublic(plan_year=r[0], township_code=r[1], target=r[2])
                             for r in rows])


class TargetUploadResult(BaseModel):
    plan_year: int
    county_code: str
    townships: int
    total: int


@router.post("/{plan_year}/upload", response_model=TargetUploadResult)
async def upload_targets(request: Request, session: UnitOfWorkDep, outbox: OutboxDep,
                         plan_year: int = Path(ge=2000, le=2100), file: UploadFile = File(...),
                         county_code: str | None = Form(None, pattern=r"^\d{6}$")) -> TargetUploadResult:
    """The plan's township task table (乡镇, 乡镇代码, 参保任务数); a 合计 row is checked.
    Every township must lie in the caller's region."""
    principal = current_principal(request)
    if county_code is not None:
        require_region(principal, county_code)
    content = await read_upload(file)
    parsed = parse_targets(content, county_code, file.filename)
    if parsed.errors:
        raise await refuse_upload(request, "targets", file.filename, parsed.content_sha256,
                                  parsed.errors)
    for t in parsed.targets:
        require_region(principal, t.township_code)
    await set_targets(session, outbox, plan_year,
                      [(t.township_code, t.target) for t in parsed.targets])
    return TargetUploadResult(plan_year=plan_year, county_code=parsed.county_code[:6],
                              townships=len(parsed.targets), total=parsed.total)
