"""What the registration routers share: reading uploads, refusing them with an error report,
and opaque cursors (the request-scoped parts are in deps.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict

from fastapi import Request, UploadFile

from services.registration.error_reports.repository import store_error_report
from services.registration.uploads import RowError
from shared.errors import DomainError, Invalid
from shared.i18n import Text
from shared.params import decode_cursor, encode_cursor  # noqa: F401 (the one cursor codec)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ERRORS_IN_BODY = 200


async def read_upload(file: UploadFile, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"file larger than {limit // (1024 * 1024)} MB", code="upload_too_large",
                          status_code=413, params={"limit_mb": limit // (1024 * 1024)})
    if not data:
        raise Invalid("the uploaded file is empty", field="file", code="empty_upload")
    return data


class UploadHasErrors(DomainError):
    status_code = 422
    code = "upload_has_errors"


class UploadOutsideRegion(DomainError):
    """Rows name people registered outside the upload's region: nothing was applied."""

    status_code = 403
    code = "forbidden_region"


async def refuse_upload(request: Request, kind: str, filename: str | None, sha256: str | None,
                        errors: Sequence[RowError], *,
                        region_code: str | None = None) -> DomainError:
    """Store the error report (its own transaction: the upload itself is rolled back) and
    return the exception to raise: 422 with the first errors and the report's id, or 403
    `forbidden_region` when a row names someone registered outside the upload's region.
    `region_code`: the uploader's region; the report is readable only inside it (default:
    the caller's own region)."""
    from services.registration.scopes import FORBIDDEN_REGION, normalise_region
    from shared.auth import current_principal

    if region_code is None:
        region_code = normalise_region(current_principal(request).region or "000000")
    report_id = uuid.uuid4()
    rows = [asdict(e) for e in errors]
    async with request.app.state.runtime.sessions() as session, session.begin():
        await store_error_report(session, report_id, kind, filename, sha256, rows, region_code)
    details = {"error_report_id": str(report_id), "error_count": len(rows),
               "errors": rows[:ERRORS_IN_BODY]}
    outside = [e for e in errors if e.code == FORBIDDEN_REGION]
    if outside:
        return UploadOutsideRegion(
            f"文件未应用：{len(outside)} 行所列人员不在您的辖区内登记"
            f"（第 {', '.join(str(e.row_number) for e in outside[:20])} 行），"
            "不能由您上传或修改", details={**details, "rows": [e.row_number for e in outside]},
            key="upload_outside_region",
            params={"count": len(outside),
                    "row_list": ", ".join(str(e.row_number) for e in outside[:20])})
    file_level = [e for e in errors if e.is_file_level]
    first = (file_level or list(errors))[0]
    where = "文件" if first.is_file_level else f"第 {first.row_number} 行"
    return UploadHasErrors(
        f"文件未应用：共 {len(rows)} 处错误；{where}：{first.message}", details=details,
        params={"count": len(rows), "first": first.message,
                "where": Text(where, "the file" if first.is_file_level
                              else f"row {first.row_number}")})
