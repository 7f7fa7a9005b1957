"""`eligibility.plan.v1`: a plan published by eligibility (the whole content, as data).

Eligibility publishes one event per publication (a first publication, a correction or a
re-publication of an earlier version) on the topic `eligibility.plan.v1`, keyed by
`<region_code>-<plan_year>`. Payments and reporting keep the plans from these events in their
own tables and build `kernels.policy.Policy` objects from `content`; they never read
eligibility's files nor import its code. The plan in force for a region and year is the one of
the highest `publication` whose `effective_on` has come (Beijing date).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TOPIC = "eligibility.plan.v1"
PLAN_PUBLISHED = "eligibility.plan_published.v1"


class PlanPublished(BaseModel):
    """The payload of `eligibility.plan_published.v1`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    region_code: str = Field(pattern=r"^\d{6}$")
    plan_year: int = Field(ge=2000, le=2100)
    version: str = Field(pattern=r"^[0-9a-f]{64}$",
                         description="sha256 of the content's canonical JSON (kernels.policy)")
    publication: int = Field(ge=1, description="eligibility's publication number, increasing")
    effective_on: dt.date = Field(description="the first day (Beijing) the plan is in force")
    content: dict[str, Any] = Field(description="the plan file's content (the YAML schema)")
    correction: bool = Field(False, description="replaces a plan of a year already collected")
    republished_from: int | None = Field(
        None, description="the earlier publication whose version is published again")
    published_by: str
    published_at: dt.datetime

    @property
    def key(self) -> str:
        return f"{self.region_code}-{self.plan_year}"
