from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from shared.text import PlainText


class CompleteRequest(BaseModel):
    reference: PlainText = Field(min_length=1, max_length=128,
                                 description="the channel's or bank's refund transaction id")


class Refund(BaseModel):
    """A refund due after a determination changed once the person had paid."""

    id: int
    person_id: uuid.UUID
    plan_year: int
    due_revision: int = Field(description="the determination revision that made it due")
    order_no: str | None = Field(None, description="the paid order it gives money back from")
    paid_fen: int
    amount_fen: int = Field(description="what is given back, fen")
    reason: str
    status: Literal["due", "completed"]
    reference: str | None = Field(None, description="the refund's transaction id, once paid")
    created_at: dt.datetime
    completed_at: dt.datetime | None = None


class RefundPage(BaseModel):
    """一页应退费, 按编号排序 / one page of refunds, in id order."""

    items: list[Refund]
    next_cursor: str | None = Field(description="下一页 / the next page's cursor; null: the end")
