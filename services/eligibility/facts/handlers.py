"""The `eligibility` consumer: registration's facts and payments' ledger, applied idempotently;
each fact that changes re-determines the person."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.determinations.service import DeterminationService
from services.eligibility.facts.repository import FactsRepository
from services.eligibility.plans.registry import PlanRegistry
from shared.events import CloudEvent
from shared.inbox import EventRouter
from shared.outbox import Outbox
from shared.service import ConsumerSpec
from shared.topics import (
    PAYMENTS_PAYMENT,
    REGISTRATION_ENROLLMENT,
    REGISTRATION_GROUP_MEMBERSHIP,
    REGISTRATION_PERSON,
)

TOPICS = (REGISTRATION_PERSON, REGISTRATION_ENROLLMENT, REGISTRATION_GROUP_MEMBERSHIP,
          PAYMENTS_PAYMENT)


def build_router(plans: PlanRegistry, outbox: Outbox) -> EventRouter:
    router = EventRouter()

    def service(session: AsyncSession) -> DeterminationService:
        return DeterminationService(session, outbox, plans)

    @router.on("registration.person_registered.v1", "registration.person_changed.v1")
    async def person(session: AsyncSession, event: CloudEvent) -> None:
        await DeterminationService(session, outbox, plans).repo.lock_shared()
        if await FactsRepository(session).apply_person(event.data):
            await service(session).follow(uuid.UUID(event.data["person_id"]), None, event.type)

    @router.on("registration.group_membership_added.v1",
               "registration.group_membership_removed.v1")
    async def membership(session: AsyncSession, event: CloudEvent) -> None:
        await DeterminationService(session, outbox, plans).repo.lock_shared()
        removed = event.type == "registration.group_membership_removed.v1"
        if await FactsRepository(session).apply_membership(event.data, removed):
            await service(session).follow(uuid.UUID(event.data["person_id"]), None, event.type)

    @router.on("registration.enrollment_registered.v1", "registration.enrollment_changed.v1")
    async def enrollment(session: AsyncSession, event: CloudEvent) -> None:
        await DeterminationService(session, outbox, plans).repo.lock_shared()
        if await FactsRepository(session).apply_enrollment(event.data):
            await service(session).follow(uuid.UUID(event.data["person_id"]),
                                          int(event.data["plan_year"]), event.type)

    @router.on("payments.payment_received.v1", "payments.payment_refunded.v1",
               "payments.payment_reversed.v1")
    async def payment(session: AsyncSession, event: CloudEvent) -> None:
        await FactsRepository(session).apply_payment(event.data)

    return router


def consumer_spec(plans: PlanRegistry, outbox: Outbox) -> ConsumerSpec:
    return ConsumerSpec("eligibility", TOPICS, build_router(plans, outbox))
