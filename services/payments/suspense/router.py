from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from services.payments.deps import PrincipalDep, SuspenseServiceDep
from services.payments.suspense.repository import SuspenseRow, suspense_payload
from services.payments.suspense.schemas import (
    ResolveRequest,
    ReverseRequest,
    SuspenseItem,
    SuspensePage,
)
from services.payments.suspense.service import SuspenseService
from shared.params import RowIdPath, decode_cursor, encode_cursor, row_id

router = APIRouter(prefix="/v1/suspense", tags=["suspense"])


def _public(row: SuspenseRow, service: SuspenseService) -> SuspenseItem:
    return SuspenseItem(**suspense_payload(row), detail=row.detail, ledger_id=row.ledger_id,
                        account_region=service.region_of_account(row))


@router.get("", summary="Money that could not be applied (挂账), with the reason",
            response_model=SuspensePage)
async def list_suspense(
    service: SuspenseServiceDep, principal: PrincipalDep,
    status: Literal["open", "resolved"] | None = "open",
    limit: int = Query(100, ge=1, le=1000, description="每页条数 / items per page"),
    cursor: str | None = Query(None, description="上一页的 next_cursor / the previous page's "
                                                  "next_cursor"),
) -> SuspensePage:
    """Only the items of people in the caller's region (filtered before paging); items
    naming no person known here (money nobody could be found for) are in every list. Pages
    follow `next_cursor`."""
    rows = await service.list(status, limit + 1, decode_cursor(cursor, row_id),
                              region_prefix=principal.region_filter)
    more = len(rows) > limit
    rows = rows[:limit]
    return SuspensePage(items=[_public(r, service) for r in rows],
                        next_cursor=encode_cursor(str(rows[-1].id)) if more else None)


@router.post("/{suspense_id}/resolve", response_model=SuspenseItem,
             summary="Resolve suspense: match the money to a person's order, or refund it")
async def resolve(suspense_id: RowIdPath, body: ResolveRequest,
                  service: SuspenseServiceDep) -> SuspenseItem:
    row = await service.resolve(suspense_id, body.action, body.person_id, body.plan_year,
                                body.note)
    return _public(row, service)


@router.post("/{suspense_id}/reverse", response_model=SuspenseItem,
             summary="Reverse a wrong match-to-person: that payment is reversed, the money is "
                     "in suspense again")
async def reverse(suspense_id: RowIdPath, body: ReverseRequest,
                  service: SuspenseServiceDep) -> SuspenseItem:
    return _public(await service.reverse(suspense_id, body.note), service)
