"""Error reports of refused uploads, as stored: the rows' reasons, readable inside the
uploader's region only."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registration.uploads import RowError

S = "registration"


async def store_error_report(session: AsyncSession, report_id: uuid.UUID, kind: str,
                             filename: str | None, sha256: str | None,
                             rows: list[dict[str, Any]], region_code: str) -> None:
    await session.execute(
        text(f"""INSERT INTO {S}.error_reports
                 (id, upload_kind, filename, content_sha256, error_count, errors,
                  region_code)
                 VALUES (:id, :k, :f, :s, :n, CAST(:e AS jsonb), :r)"""),
        {"id": report_id, "k": kind, "f": filename, "s": sha256, "n": len(rows),
         "e": orjson.dumps(rows).decode(), "r": region_code},
    )


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
