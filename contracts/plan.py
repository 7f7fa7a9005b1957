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
from typing import Any, ClassVar

from pydantic import Field

from contracts.base import EventModel, Timestamp
from shared import topics

TOPIC = topics.ELIGIBILITY_PLAN
PLAN_PUBLISHED = "eligibility.plan_published.v1"


class PlanPublished(EventModel):
    """A plan published: a first publication, a correction or a re-publication of an earlier
    version (eligibility.plan.v1, key: `<region_code>-<plan_year>`)."""

    TOPIC = TOPIC
    TYPE = PLAN_PUBLISHED
    KEY_DOC: ClassVar[str | None] = "<region_code>-<plan_year>"
    EXAMPLE = {
        "region_code": "370481", "plan_year": 2026, "version": "0" * 64, "publication": 7,
        "effective_on": "2025-09-01", "content": {"region_code": "370481", "plan_year": 2026},
        "correction": False, "republished_from": None, "published_by": "policy-officer-2",
        "published_at": "2025-08-20T02:00:00+00:00"}

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
    published_at: Timestamp

    def key(self) -> str:
        return f"{self.region_code}-{self.plan_year}"


EVENTS: tuple[type[EventModel], ...] = (PlanPublished,)
