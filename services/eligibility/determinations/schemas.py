from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    certified_on: dt.date | None = None
    ends_on: dt.date | None = None
    later_birth_on: dt.date | None = None


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str | None = None
    birth_date: dt.date | None = None
    insured_category: Literal["adult", "minor", "student"] | None = None
    groups: list[GroupIn] = Field(default_factory=list)


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_code: str = Field(pattern=r"^\d{6}$")
    plan_year: int = Field(ge=2000, le=2100)
    person: PersonIn
    enrolled_on: dt.date | None = None
    paid_on: dt.date | None = None


class SubsidyOut(BaseModel):
    rule_id: str
    funding_source: str
    amount_fen: int


class TraceOut(BaseModel):
    rule_id: str
    matched: bool
    outcome: str
    reason: str


class PreviewResponse(BaseModel):
    standard_fen: int
    personal_fen: int
    subsidies: list[SubsidyOut]
    surcharge_fen: int
    insured_category: str
    coverage_start: dt.date
    policy_version: str
    region_code: str
    assumptions: list[str]
    trace: list[TraceOut]
