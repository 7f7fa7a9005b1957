from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.payments.suspense.repository import SuspenseRow, suspense_payload
from services.payments.suspense.service import SuspenseService
from shared.auth import current_principal
from shared.db import SessionDep
from shared.params import OffsetQuery, RowIdPath
from shared.text import PlainText

router = APIRouter(prefix="/v1/suspense", tags=["suspense"])


class ResolveRequest(BaseModel):
    action: Literal["match-to-person", "refund"]
    person_id: uuid.UUID | None = None
    plan_year: int | None = Field(None, ge=2000, le=2100)
    note: PlainText | None = Field(None, max_length=500)


def _service(request: Request, session: SessionDep) -> SuspenseService:
    state = request.app.state
    return SuspenseService(session, state.runtime.outbox, state.coverage,
                           actor=current_principal(request),
                           channel_regions=getattr(state, "channel_regions", {}))


def _public(row: SuspenseRow, service: SuspenseService) -> dict[str, Any]:
    """`account_region`: the region of the channel account the money arrived on (whose it is
    when it names no person; null: nationwide callers' and administrators')."""
    return {**suspense_payload(row), "detail": row.detail, "ledger_id": row.ledger_id,
            "account_region": service.region_of_account(row)}


@router.get("", summary="Money that could not be applied (挂账), with the reason")
async def list_suspense(
    request: Request, session: SessionDep,
    status: Literal["open", "resolved"] | None = "open",
    limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
) -> list[dict[str, Any]]:
    """Only the items of people in the caller's region (filtered before paging); items
    naming no person known here (money nobody could be found for) are in every list."""
    service = _service(request, session)
    rows = await service.list(status, limit, offset,
                              region_prefix=current_principal(request).region_filter)
    return [_public(r, service) for r in rows]


@router.post("/{suspense_id}/resolve")
async def resolve(suspense_id: RowIdPath, body: ResolveRequest, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        service = _service(request, session)
        row = await service.resolve(
            suspense_id, body.action, body.person_id, body.plan_year, body.note)
    return _public(row, service)


class ReverseRequest(BaseModel):
    note: PlainText | None = Field(None, max_length=500)


@router.post("/{suspense_id}/reverse",
             summary="Reverse a wrong match-to-person: that payment is reversed, the money is "
                     "in suspense again")
async def reverse(suspense_id: RowIdPath, body: ReverseRequest, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        service = _service(request, session)
        row = await service.reverse(suspense_id, body.note)
    return _public(row, service)
