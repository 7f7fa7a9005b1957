from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from services.registration.common import (
    load_error_report,
    outbox,
    read_upload,
    refuse_upload,
    vault,
)
from services.registration.lists.repository import ListVersion
from services.registration.lists.service import ListService, department_or_404
from services.registration.uploads import write_error_report_csv, write_error_report_xlsx
from shared.auth import current_principal
from shared.db import SessionDep
from shared.errors import NotFound

router = APIRouter(prefix="/v1/lists", tags=["certified lists"])
YEAR = Path(ge=2000, le=2100)


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


class UploadResult(BaseModel):
    status: Literal["applied", "unchanged"]
    department: str
    plan_year: int
    version: VersionPublic


class ListSummary(BaseModel):
    department: str
    plan_year: int
    versions: list[VersionPublic]
    current_row_count: int


def _version(v: ListVersion) -> VersionPublic:
    return VersionPublic(version_no=v.version_no, kind=v.kind, content_sha256=v.content_sha256,
                         filename=v.filename, row_count=v.row_count, added=v.added,
                         removed=v.removed, changed=v.changed,
                         uploaded_at=v.uploaded_at.isoformat())


@router.get("/error-reports/{report_id}")
async def error_report(report_id: uuid.UUID, session: SessionDep,
                       format: Literal["csv", "xlsx"] = "csv") -> Response:  # noqa: A002
    """The row-by-row reasons an upload was refused (any upload kind), for the uploader."""
    errors = await load_error_report(session, report_id)
    if errors is None:
        raise NotFound("no such error report", code="error_report_not_found")
    if format == "xlsx":
        return Response(write_error_report_xlsx(errors), media_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            headers={"content-disposition": f'attachment; filename="errors-{report_id}.xlsx"'})
    return Response(write_error_report_csv(errors), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="errors-{report_id}.csv"'})


@router.post("/{department}/{plan_year}", response_model=UploadResult)
async def upload_list(request: Request, session: SessionDep, department: str,
                      plan_year: int = YEAR, file: UploadFile = File(...),
                      version: Literal["preliminary", "final"] = Query("preliminary")) -> UploadResult:
    content = await read_upload(file)
    async with session.begin():
        result = await ListService(session, outbox(request), vault(request)).upload(
            department, plan_year, version, content, file.filename,
            principal=current_principal(request))
        if result.errors:
            raise await refuse_upload(request, f"list:{department}", file.filename,
                                      result.content_sha256, result.errors)
    assert result.version is not None
    return UploadResult(status=result.status, department=result.version.department,  # type: ignore[arg-type]
                        plan_year=plan_year, version=_version(result.version))


@router.get("/{department}/{plan_year}", response_model=ListSummary)
async def list_versions(request: Request, session: SessionDep, department: str,
                        plan_year: int = YEAR) -> ListSummary:
    dept = department_or_404(department)
    versions = await ListService(session, outbox(request), vault(request)).repo.versions(
        dept, plan_year)
    return ListSummary(department=dept, plan_year=plan_year,
                       versions=[_version(v) for v in versions],
                       current_row_count=versions[-1].row_count if versions else 0)
