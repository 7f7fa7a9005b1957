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
    # the basis for enrolling outside one's 户籍 (the plan's scope section): without one, a
    # person whose ID number names another region gets a warning in the answer
    residence_permit: bool = Field(False, description="holds a residence permit (居住证) here")
    residence_permit_child: bool = Field(
        False, description="a child of a residence-permit holder here (随迁子女)")
    local_student: bool = Field(False, description="studies at a school of the plan's region")


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


class LateOut(BaseModel):
    personal_fen: int
    surcharge_fen: int
    subsidies: list[SubsidyOut]
    insured_category: str


class PreviewResponse(BaseModel):
    """What is owed, and from when the person is covered: for `paid_on` when it is given (the
    outcome that payment date falls in: `timing` on_time or late), else for a payment on time.
    `on_time_until`, `payable_until` and `late` are both outcomes, as a stored determination
    carries them."""

    standard_fen: int
    personal_fen: int
    subsidies: list[SubsidyOut]
    surcharge_fen: int
    insured_category: str
    coverage_start: dt.date
    policy_version: str
    region_code: str
    timing: Literal["on_time", "late"]
    explanation: str
    on_time_until: dt.date
    payable_until: dt.date
    late: LateOut | None
    assumptions: list[str]
    warnings: list[str] = Field(
        default_factory=list,
        description="what the answer cannot vouch for (a person outside the plan's scope)")
    trace: list[TraceOut]
