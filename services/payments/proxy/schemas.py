from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

BudgetLine = Literal["medical_assistance_fund", "city_finance", "county_finance",
                     "township_finance", "rural_revitalization"]


class ProxyRowIn(BaseModel):
    person_id: uuid.UUID
    amount_fen: int = Field(gt=0, strict=True)


class ProxyBatchCreate(BaseModel):
    batch_no: str = Field(min_length=1, max_length=64)
    budget_line: BudgetLine
    plan_year: int = Field(ge=2000, le=2100)
    declared_count: int = Field(ge=1)
    declared_total_fen: int = Field(ge=1, strict=True)
    rows: list[ProxyRowIn] = Field(min_length=1, max_length=200_000)
    paid_on: dt.date | None = Field(
        None, description="the day the budget line actually paid (Beijing date); it decides "
        "whether each person's subsidy is paid on time or late. Not in the future, not before "
        "the plan year's collection opened. Default: the day the batch is recorded")


class ProxyBatch(BaseModel):
    """An accepted batch: one ledger entry and one payment event per person."""

    id: int
    batch_no: str
    budget_line: BudgetLine
    plan_year: int
    paid_on: dt.date
    count: int
    total_fen: int
    status: Literal["accepted"]
