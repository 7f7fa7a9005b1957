"""What the registration routers share: reading uploads, refusing them with an error report,
opaque cursors, and the request-scoped parts (vault, outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict

import orjson
from fastapi import Request, UploadFile
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registration.uploads import RowError
from shared.errors import DomainError, Invalid
from shared.i18n import Text
from shared.outbox import Outbox
from shared.params import decode_cursor, encode_cursor  # noqa: F401 (the one cursor codec)
from shared.pii import PiiVault, vault_for

S = "registration"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ERRORS_IN_BODY = 200


def vault(request: Request) -> PiiVault:
    return vault_for(request.app.state.runtime.settings)


def outbox(request: Request) -> Outbox:
    return request.app.state.runtime.outbox


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
        await session.execute(
            text(f"""INSERT INTO {S}.error_reports
                     (id, upload_kind, filename, content_sha256, error_count, errors,
                      region_code)
                     VALUES (:id, :k, :f, :s, :n, CAST(:e AS jsonb), :r)"""),
            {"id": report_id, "k": kind, "f": filename, "s": sha256, "n": len(rows),
             "e": orjson.dumps(rows).decode(), "r": region_code},
        )
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


async def load_error_report(session: AsyncSession, report_id: uuid.UUID,
                            region_prefix: str | None = None) -> list[RowError] | None:
    """The report's rows; None when there is none, or (`region_prefix`: the caller's
    Principal.region_filter) it was made by an upload outside the caller's region."""
    row = (await session.execute(
        text(f"SELECT errors FROM {S}.error_reports WHERE id = :id AND ("
             "CAST(:rp AS text) IS NULL OR (region_code IS NOT NULL AND "
             "region_code <> '000000' AND region_code LIKE :rp || '%'))"),
        {"id": report_id, "rp": region_prefix})).first()
    if row is None:
        return None
    return [RowError(**e) for e in row[0]]
