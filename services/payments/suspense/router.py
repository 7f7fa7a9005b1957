from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.payments.suspense.repository import SuspenseRow, suspense_payload
from services.payments.suspense.service import SuspenseService
from shared.db import SessionDep

router = APIRouter(prefix="/v1/suspense", tags=["suspense"])


class ResolveRequest(BaseModel):
    action: Literal["match-to-person", "refund"]
    person_id: uuid.UUID | None = None
    plan_year: int | None = Field(None, ge=2000, le=2100)
    note: str | None = Field(None, max_length=500)


def _service(request: Request, session: SessionDep) -> SuspenseService:
    state = request.app.state
    return SuspenseService(session, state.runtime.outbox, state.coverage)


def _public(row: SuspenseRow) -> dict[str, Any]:
    return {**suspense_payload(row), "detail": row.detail, "ledger_id": row.ledger_id}


@router.get("", summary="Money that could not be applied (挂账), with the reason")
async def list_suspense(
    request: Request, session: SessionDep,
    status: Literal["open", "resolved"] | None = "open",
    limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
) -> list[dict[str, Any]]:
    rows = await _service(request, session).list(status, limit, offset)
    return [_public(r) for r in rows]


@router.post("/{suspense_id}/resolve")
async def resolve(suspense_id: int, body: ResolveRequest, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        row = await _service(request, session).resolve(
            suspense_id, body.action, body.person_id, body.plan_year, body.note)
    return _public(row)
