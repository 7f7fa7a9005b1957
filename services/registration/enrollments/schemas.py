from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.text import PlainText

Category = Literal["adult", "minor", "student"]


class EnrollmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    plan_year: int = Field(ge=2000, le=2100)
    insured_category: Category | None = Field(
        None, description="declared category; when absent: student if a school is on file, "
        "minor under 18 on 1 January of the plan year, else adult (the plan may re-decide)")
    registered_on: dt.date | None = None


class EnrollmentStop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["stopped", "ended"]
    reason: Literal["died", "employee_scheme", "insured_elsewhere", "moved_away", "other"]
    note: PlainText | None = Field(None, max_length=200)


class EnrollmentPublic(BaseModel):
    person_id: uuid.UUID
    plan_year: int
    status: str
    reason: str | None
    insured_category: str
    county_code: str
    township_code: str | None
    village_code: str | None
    registered_on: dt.date
    revision: int


class RolloverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_year: int = Field(ge=2000, le=2100)
    to_year: int = Field(ge=2000, le=2100)
    county_code: str | None = Field(None, pattern=r"^\d{6}$")
    registered_on: dt.date | None = None


class RolloverResult(BaseModel):
    from_year: int
    to_year: int
    county_code: str | None
    enrolled: int
