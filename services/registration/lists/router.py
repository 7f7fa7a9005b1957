from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.registration.common import (
    read_upload,
    refuse_upload,
)
from services.registration.deps import OutboxDep, UnitOfWorkDep, VaultDep
from services.registration.error_reports.repository import load_error_report
from services.registration.lists.download import write_list_csv, write_list_xlsx
from services.registration.lists.repository import ListVersion
from services.registration.lists.service import ListService, department_or_404
from services.registration.scopes import upload_region
from services.registration.uploads import write_error_report_csv, write_error_report_xlsx
from services.registration.uploads.categories import DEPARTMENTS
from shared.api_docs import file_only_responses
from shared.auth import current_principal
from shared.downloads import attachment
from shared.errors import NotFound

router = APIRouter(prefix="/v1/lists", tags=["certified lists"])
YEAR = Path(ge=2000, le=2100)
REGION = Query(None, pattern=r"^(\d{6}|\d{12})$", description=(
    "the region the list is for (its own version history): inside the caller's region; "
    "left out, the caller's own region"))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class VersionPublic(BaseModel):
    version_no: int
    kind: str
    content_sha256: str
    filename: str | None
    row_count: int
    added: int
    removed: int
    changed: int
    uploaded_at: str
    uploaded_by: str | None = Field(None, description="who uploaded it: the token's subject")


class UploadResult(BaseModel):
    status: Literal["applied", "unchanged"]
    department: str
    region_code: str
    plan_year: int
    version: VersionPublic


class ListSummary(BaseModel):
    department: str
    region_code: str
    plan_year: int
    versions: list[VersionPublic]
    current_row_count: int


def _version(v: ListVersion) -> VersionPublic:
    return VersionPublic(version_no=v.version_no, kind=v.kind, content_sha256=v.content_sha256,
                         filename=v.filename, row_count=v.row_count, added=v.added,
                         removed=v.removed, changed=v.changed,
                         uploaded_at=v.uploaded_at.isoformat(), uploaded_by=v.uploaded_by)


@router.get("/error-reports/{report_id}", response_class=Response,
            responses=file_only_responses("csv", "xlsx"))
async def error_report(report_id: uuid.UUID, request: Request, session: UnitOfWorkDep,
                       format: Literal["csv", "xlsx"] = "csv") -> Response:  # noqa: A002
    """The row-by-row reasons an upload was refused (any upload kind), for the uploader: only
    inside the region of the upload (another region's report answers 404)."""
    errors = await load_error_report(session, report_id,
                                     current_principal(request).region_filter)
    if errors is None:
        raise NotFound("no such error report", code="error_report_not_found")
    if format == "xlsx":
        return Response(write_error_report_xlsx(errors), media_type=XLSX,
                        headers=attachment(f"上传错误报告-{report_id}.xlsx"))
    return Response(write_error_report_csv(errors), media_type="text/csv; charset=utf-8",
                    headers=attachment(f"上传错误报告-{report_id}.csv"))


@router.post("/{department}/{plan_year}", response_model=UploadResult)
async def upload_list(request: Request, session: UnitOfWorkDep,
                      vault: VaultDep, outbox: OutboxDep, department: str,
                      plan_year: int = YEAR, file: UploadFile = File(...),
                      version: Literal["preliminary", "final"] = Query("preliminary"),
                      region_code: str | None = REGION) -> UploadResult:
    """The department's list for one region (the caller's own unless `region_code` names one
    inside it) and plan year, a new version of that region's list: whole or not at all. A row
    naming someone registered outside the region refuses the file (403 forbidden_region with
    row reasons); people of other regions are never added, changed or removed."""
    principal = current_principal(request)
    region = upload_region(principal, region_code)
    content = await read_upload(file)
    result = await ListService(session, outbox, vault).upload(
        department, plan_year, version, content, file.filename, region=region,
        uploaded_by=principal.subject)
    if result.errors:
        raise await refuse_upload(request, f"list:{department}", file.filename,
                                  result.content_sha256, result.errors, region_code=region)
    assert result.version is not None
    return UploadResult(status=result.status, department=result.version.department,  # type: ignore[arg-type]
                        region_code=region, plan_year=plan_year,
                        version=_version(result.version))


@router.get("/{department}/{plan_year}", response_model=ListSummary)
async def list_versions(request: Request, session: UnitOfWorkDep,
                        vault: VaultDep, outbox: OutboxDep, department: str,
                        plan_year: int = YEAR, region_code: str | None = REGION) -> ListSummary:
    """The version history of the department's list for one region (the caller's own unless
    `region_code` names one inside it) and plan year."""
    dept = department_or_404(department)
    region = upload_region(current_principal(request), region_code)
    versions = await ListService(session, outbox, vault).repo.versions(
        dept, region, plan_year)
    return ListSummary(department=dept, region_code=region, plan_year=plan_year,
                       versions=[_version(v) for v in versions],
                       current_row_count=versions[-1].row_count if versions else 0)


@router.get("/{department}/{plan_year}/current", response_model=None, response_class=Response,
            responses=file_only_responses("csv", "xlsx"))
async def download_list(request: Request, session: UnitOfWorkDep,
                        vault: VaultDep, outbox: OutboxDep, department: str,
                        plan_year: int = YEAR, region_code: str | None = REGION,
                        format: Literal["csv", "xlsx"] = "xlsx") -> Response:  # noqa: A002
    """The department's current list for the region and year, in the layout it uploads
    (姓名, 身份证号, 类别, 认定日期, 终止日期, 再生育日期, 残疾等级), to correct and send again:
    uploaded unchanged it changes nothing. It holds full ID numbers (the department's own
    list); every download is in the audit log."""
    dept = department_or_404(department)
    region = upload_region(current_principal(request), region_code)
    version, entries = await ListService(session, outbox, vault).current(
        dept, region, plan_year)
    if version is None:
        raise NotFound(f"{dept} 在 {region} 没有 {plan_year} 年度的名单", code="list_not_found")
    name = (f"{DEPARTMENTS.get(dept, dept)}{plan_year}年度认定名单-{region}"
            f"-第{version.version_no}版")
    if format == "csv":
        return Response(write_list_csv(entries), media_type="text/csv; charset=utf-8",
                        headers=attachment(f"{name}.csv"))
    return Response(write_list_xlsx(entries), media_type=XLSX,
                    headers=attachment(f"{name}.xlsx"))
