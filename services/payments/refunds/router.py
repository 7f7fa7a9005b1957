from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.payments.refunds.repository import RefundRepository, RefundRow
from services.payments.refunds.service import RefundService
from services.payments.scope import require_persons_in_region
from shared.auth import current_principal
from shared.db import SessionDep
from shared.params import OffsetQuery, RowIdPath
from shared.text import PlainText

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


class CompleteRequest(BaseModel):
    reference: PlainText = Field(min_length=1, max_length=128,
                           description="the channel's or bank's refund transaction id")


def _service(request: Request, session: SessionDep) -> RefundService:
    state = request.app.state
    return RefundService(session, state.runtime.outbox, state.coverage)


def _public(row: RefundRow) -> dict[str, Any]:
    out = asdict(row)
    out["person_id"] = str(row.person_id)
    return out


@router.get("", summary="Refunds due after a determination changed once the person had paid")
async def list_refunds(request: Request, session: SessionDep,
                       status: Literal["due", "completed"] | None = "due",
                       limit: int = Query(100, ge=1, le=1000),
                       offset: OffsetQuery = 0) -> list[dict[str, Any]]:
    """Only the refunds of people in the caller's region (filtered before paging)."""
    rows = await _service(request, session).list(
        status, limit, offset, region_prefix=current_principal(request).region_filter)
    return [_public(r) for r in rows]


@router.post("/{refund_id}/complete")
async def complete(refund_id: RowIdPath, body: CompleteRequest, request: Request,
                   session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        refund = await RefundRepository(session).get(refund_id)
        if refund is not None:
            await require_persons_in_region(session, current_principal(request),
                                            [refund.person_id])
        row = await _service(request, session).complete(refund_id, body.reference)
    return _public(row)
