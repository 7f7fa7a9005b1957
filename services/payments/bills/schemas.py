"""The bill lookup's request and answer."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class BillLookup(BaseModel):
    """The ID number travels in the body, never in the URL (URLs end up in logs)."""

    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=15, max_length=18)
    plan_year: int = Field(ge=2000, le=2100)
    on: dt.date | None = Field(
        None, description="the payment date to answer for (Beijing date); default: today")


class BillSubsidy(BaseModel):
    rule_id: str | None = None
    funding_source: str | None = None
    amount_fen: int


class Bill(BaseModel):
    """What a person owes for a plan year if paid on `on`. Which fields are present depends on
    `status`: `due` carries `amount_fen`, `amount_yuan` and the `order_no` to pay against;
    `paid` the order that was paid (`paid_fen`, `paid_at`); every status but `not_enrolled`
    the plan's figures (`standard_fen`, `subsidies`); the others a `reason`."""

    status: Literal["due", "paid", "subsidized", "nothing_due", "not_enrolled"]
    plan_year: int
    name_masked: str | None = None
    id_number_masked: str | None = None
    county_code: str | None = None
    township_code: str | None = None
    village_code: str | None = None
    amount_fen: int = Field(description="what to collect now, fen (0 unless `due`)")
    amount_yuan: str | None = Field(None, description="`amount_fen` in yuan, for channels")
    order_no: str | None = None
    on: dt.date | None = None
    standard_fen: int | None = None
    subsidies: list[BillSubsidy] | None = None
    surcharge_fen: int | None = None
    timing: str | None = Field(None, description="on_time or late")
    coverage_start: dt.date | None = None
    on_time_until: dt.date | None = None
    payable_until: dt.date | None = None
    explanation: str | None = Field(None, description="why, in Chinese, citing the plan")
    assumptions: list[Any] | None = None
    paid_fen: int | None = None
    paid_at: dt.datetime | None = None
    reason: str | None = None
