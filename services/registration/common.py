"""What the registration routers share: reading uploads, refusing them with an error report,
opaque cursors, and the request-scoped parts (vault, outbox)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import orjson
from fastapi import Request, UploadFile
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registration.uploads import RowError
from shared.errors import DomainError, Invalid
from shared.outbox import Outbox
from shared.pii import PiiVault, vault_for

S = "registration"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ERRORS_IN_BODY = 200


def vault(request: Request) -> PiiVault:
    return vault_for(request.app.state.runtime.settings.pii_key)


def outbox(request: Request) -> Outbox:
    return request.app.state.runtime.outbox


async def read_upload(file: UploadFile, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"file larger than {limit // (1024 * 1024)} MB", code="upload_too_large",
                          status_code=413)
    if not data:
        raise Invalid("the uploaded file is empty", field="file", code="empty_upload")
    return data


class UploadHasErrors(DomainError):
    status_code = 422
    code = "upload_has_errors"


async def refuse_upload(request: Request, kind: str, filename: str | None, sha256: str | None,
                        errors: Sequence[RowError]) -> UploadHasErrors:
    """Store the error report (its own transaction: the upload itself is rolled back) and
    return the exception to raise: 422 with the first errors and the report's id."""
    report_id = uuid.uuid4()
    rows = [asdict(e) for e in errors]
    async with request.app.state.runtime.sessions() as session, session.begin():
        await session.execute(
            text(f"""INSERT INTO {S}.error_reports
                     (id, upload_kind, filename, content_sha256, error_count, errors)
                     VALUES (:id, :k, :f, :s, :n, CAST(:e AS jsonb))"""),
            {"id": report_id, "k": kind, "f": filename, "s": sha256, "n": len(rows),
             "e": orjson.dumps(rows).decode()},
        )
    file_level = [e for e in errors if e.is_file_level]
    first = (file_level or list(errors))[0]
    where = "file" if first.is_file_level else f"row {first.row_number}"
    return UploadHasErrors(
        f"the file was not applied: {len(rows)} error(s); {where}: {first.message}",
        details={"error_report_id": str(report_id), "error_count": len(rows),
                 "errors": rows[:ERRORS_IN_BODY]},
    )


async def load_error_report(session: AsyncSession, report_id: uuid.UUID) -> list[RowError] | None:
    row = (await session.execute(
        text(f"SELECT errors FROM {S}.error_reports WHERE id = :id"), {"id": report_id})).first()
    if row is None:
        return None
    return [RowError(**e) for e in row[0]]


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise Invalid("cursor is not valid", field="cursor", code="invalid_cursor") from None


def id_numbers_in(content: bytes, spec: Any, filename: str | None) -> set[str]:
    """The ID numbers in an upload's 身份证号 column (a first pass, to look names up at once)."""
    from services.registration.uploads.identity import normalise_id_text
    from services.registration.uploads.tables import TableReader

    reader = TableReader(content, spec, filename, allow_extra_columns=True)
    ids = {normalise_id_text(v.get("id_number", "")) for _, v, _ in reader.rows()}
    reader.close()
    return {i for i in ids if i}
