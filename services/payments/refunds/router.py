from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Query

from services.payments.deps import PrincipalDep, RefundServiceDep
from services.payments.refunds.repository import RefundRow
from services.payments.refunds.schemas import CompleteRequest, Refund, RefundPage
from shared.params import RowIdPath, decode_cursor, encode_cursor, row_id

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


def _public(row: RefundRow) -> Refund:
    return Refund(**asdict(row))


@router.get("", summary="Refunds due after a determination changed once the person had paid",
            response_model=RefundPage)
async def list_refunds(
    service: RefundServiceDep, principal: PrincipalDep,
    status: Literal["due", "completed"] | None = "due",
    limit: int = Query(100, ge=1, le=1000, description="每页条数 / items per page"),
    cursor: str | None = Query(None, description="上一页的 next_cursor / the previous page's "
                                                  "next_cursor"),
) -> RefundPage:
    """Only the refunds of people in the caller's region (filtered before paging); pages
    follow `next_cursor`."""
    rows = await service.list(status, limit + 1, decode_cursor(cursor, row_id),
                              region_prefix=principal.region_filter)
    more = len(rows) > limit
    rows = rows[:limit]
    return RefundPage(items=[_public(r) for r in rows],
                      next_cursor=encode_cursor(str(rows[-1].id)) if more else None)


@router.post("/{refund_id}/complete", response_model=Refund,
             summary="Record that a refund due was paid back (its transaction id)")
async def complete(refund_id: RowIdPath, body: CompleteRequest,
                   service: RefundServiceDep) -> Refund:
    return _public(await service.complete(refund_id, body.reference))
