from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.text import PlainText


class ResolveRequest(BaseModel):
    action: Literal["match-to-person", "refund"]
    person_id: uuid.UUID | None = None
    plan_year: int | None = Field(None, ge=2000, le=2100)
    note: PlainText | None = Field(None, max_length=500)


class ReverseRequest(BaseModel):
    note: PlainText | None = Field(None, max_length=500)


class SuspenseItem(BaseModel):
    """Money that could not be applied (挂账), with the reason, and how it was resolved."""

    suspense_id: int
    channel: str
    channel_txn_id: str
    kind: str = Field(description="payment, refund or reversal")
    order_no: str | None = None
    person_id: str | None = Field(None, description="the person the money came with")
    plan_year: int | None = None
    amount_fen: int
    reason: str = Field(description="unknown_order, underpaid, overpaid, paid_twice, "
                        "partial_refund, plan_year_closed, ...")
    status: Literal["open", "resolved"]
    resolution: dict[str, Any] | None = Field(
        None, description="action (match-to-person, refund, offset, settled), note; a match "
        "names person_id, plan_year, order_no and coverage_start")
    opened_at: str
    resolved_at: str | None = None
    revision: int
    detail: str | None = None
    ledger_id: int | None = None
    account_region: str | None = Field(
        None, description="the region of the channel account the money arrived on (whose it "
        "is when it names no person; null: nationwide callers' and administrators')")


class SuspensePage(BaseModel):
    """一页挂账, 按编号排序 / one page of suspense items, in id order."""

    items: list[SuspenseItem]
    next_cursor: str | None = Field(description="下一页 / the next page's cursor; null: the end")
