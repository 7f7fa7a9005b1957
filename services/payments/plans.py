"""The plans payments holds: kept from `eligibility.plan.v1` events in `payments.plans`
(shared/plan_copies.py), looked up by the coverage calculator. Payments never reads
eligibility's files nor imports its code."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.plan import PLAN_PUBLISHED
from shared.events import CloudEvent
from shared.inbox import EventRouter
from shared.plan_copies import PlanCopies
from shared.service import ConsumerSpec
from shared.topics import ELIGIBILITY_PLAN

CONSUMER = "payments-plans"


def plans_consumer(copies: PlanCopies) -> ConsumerSpec:
    router = EventRouter()

    @router.on(PLAN_PUBLISHED)
    async def published(session: AsyncSession, event: CloudEvent) -> None:
        await copies.store(session, event)

    return ConsumerSpec(CONSUMER, (ELIGIBILITY_PLAN,), router)
