"""The shipped seed plans as test data, and as the `eligibility.plan.v1` events eligibility
publishes for them at first start (for tests of payments and reporting, which hold plans only
from those events). Test code only: no service reads the seed folder but eligibility."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from contracts.plan import PLAN_PUBLISHED, PlanPublished
from kernels.policy import Policy, PolicyCatalog
from shared.events import CloudEvent

SEED_DIR = Path(__file__).resolve().parents[2] / "services" / "eligibility" / "policies"


def seed_catalog() -> PolicyCatalog:
    return PolicyCatalog.load(SEED_DIR)


def plan_event(policy: Policy, publication: int, *, effective_on: dt.date | None = None,
               correction: bool = False) -> CloudEvent:
    """The event eligibility publishes for `policy` (numbered as the test chooses)."""
    payload = PlanPublished(
        region_code=policy.region_code, plan_year=policy.plan_year, version=policy.version,
        publication=publication, effective_on=effective_on or policy.source.issued_on,
        content=orjson.loads(orjson.dumps(policy.raw, default=str)), correction=correction,
        published_by="seed", published_at=dt.datetime.now(dt.UTC))
    return CloudEvent(source="canbao/eligibility", type=PLAN_PUBLISHED,
                      partitionkey=payload.key(), data=payload.wire())


def seed_plan_events(first: int = 1) -> list[CloudEvent]:
    return [plan_event(p, first + i) for i, p in enumerate(seed_catalog())]


async def give_seed_plans(session: Any, copies: Any) -> None:
    """Store the seed plans in a consuming service's plan table as if the events had come
    (`copies`: its shared.plan_copies.PlanCopies), numbered above anything eligibility could
    have published in the test database (numbers are per publication, so reruns are no-ops)."""
    for event in seed_plan_events(first=10_000_000):
        await copies.store(session, event)
