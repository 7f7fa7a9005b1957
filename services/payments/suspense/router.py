from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.payments.scope import require_persons_in_region
from services.payments.suspense.repository import (
    SuspenseRepository,
    SuspenseRow,
    suspense_payload,
)
from services.payments.suspense.service import SuspenseService
from shared.auth import current_principal
from shared.db import SessionDep
from shared.params import OffsetQuery, RowIdPath

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


async def _require_region(request: Request, session: SessionDep, suspense_id: int,
                          person_id: uuid.UUID | None = None) -> None:
    """Staff act on the money of people in their region: the person it is matched to now,
    the person named in the request, the person the item was matched to before."""
    item = await SuspenseRepository(session).get(suspense_id)
    if item is None:
        return  # the service answers 404
    matched = (item.resolution or {}).get("person_id")
    await require_persons_in_region(session, current_principal(request), (
        person_id, item.person_id, uuid.UUID(matched) if matched else None))


@router.get("", summary="Money that could not be applied (挂账), with the reason")
async def list_suspense(
    request: Request, session: SessionDep,
    status: Literal["open", "resolved"] | None = "open",
    limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
) -> list[dict[str, Any]]:
    """Only the items of people in the caller's region (filtered before paging); items
    naming no person known here (money nobody could be found for) are in every list."""
    rows = await _service(request, session).list(
        status, limit, offset, region_prefix=current_principal(request).region_filter)
    return [_public(r) for r in rows]


@router.post("/{suspense_id}/resolve")
async def resolve(suspense_id: RowIdPath, body: ResolveRequest, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        await _require_region(request, session, suspense_id, body.person_id)
        row = await _service(request, session).resolve(
            suspense_id, body.action, body.person_id, body.plan_year, body.note)
    return _public(row)


class ReverseRequest(BaseModel):
    note: str | None = Field(None, max_length=500)


@router.post("/{suspense_id}/reverse",
             summary="Reverse a wrong match-to-person: that payment is reversed, the money is "
                     "in suspense again")
async def reverse(suspense_id: RowIdPath, body: ReverseRequest, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        await _require_region(request, session, suspense_id)
        row = await _service(request, session).reverse(suspense_id, body.note)
    return _public(row)
