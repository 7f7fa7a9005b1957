from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Query

from services.payments.deps import PrincipalDep, RefundServiceDep
from services.payments.refunds.repository import RefundRow
from services.payments.refunds.schemas import CompleteRequest, Refund
from shared.params import OffsetQuery, RowIdPath

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


def _public(row: RefundRow) -> Refund:
    return Refund(**asdict(row))


@router.get("", summary="Refunds due after a determination changed once the person had paid",
            response_model=list[Refund])
async def list_refunds(service: RefundServiceDep, principal: PrincipalDep,
                       status: Literal["due", "completed"] | None = "due",
                       limit: int = Query(100, ge=1, le=1000),
                       offset: OffsetQuery = 0) -> list[Refund]:
    """Only the refunds of people in the caller's region (filtered before paging)."""
    rows = await service.list(status, limit, offset, region_prefix=principal.region_filter)
    return [_public(r) for r in rows]


@router.post("/{refund_id}/complete", response_model=Refund,
             summary="Record that a refund due was paid back (its transaction id)")
async def complete(refund_id: RowIdPath, body: CompleteRequest,
                   service: RefundServiceDep) -> Refund:
    return _public(await service.complete(refund_id, body.reference))
