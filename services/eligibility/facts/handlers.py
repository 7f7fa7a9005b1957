"""The `eligibility` consumer: registration's facts and payments' ledger, applied idempotently;
each fact that changes re-determines the person."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import payments, registration
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

# the topics of the contracts build_router handles (a test checks they agree)
TOPICS = (REGISTRATION_PERSON, REGISTRATION_ENROLLMENT, REGISTRATION_GROUP_MEMBERSHIP,
          PAYMENTS_PAYMENT)


def build_router(plans: PlanRegistry, outbox: Outbox) -> EventRouter:
    router = EventRouter()

    def service(session: AsyncSession) -> DeterminationService:
        return DeterminationService(session, outbox, plans)

    @router.on(registration.PersonRegistered, registration.PersonChanged)
    async def person(session: AsyncSession, data: registration.PersonPayload,
                     event: CloudEvent) -> None:
        await DeterminationService(session, outbox, plans).repo.lock_shared()
        if await FactsRepository(session).apply_person(data.wire()):
            await service(session).follow(data.person_id, None, event.type)

    @router.on(registration.GroupMembershipAdded, registration.GroupMembershipRemoved)
    async def membership(session: AsyncSession, data: registration.MembershipPayload,
                         event: CloudEvent) -> None:
        await DeterminationService(session, outbox, plans).repo.lock_shared()
        removed = isinstance(data, registration.GroupMembershipRemoved)
        if await FactsRepository(session).apply_membership(data.wire(), removed):
            await service(session).follow(data.person_id, None, event.type)

    @router.on(registration.EnrollmentRegistered, registration.EnrollmentChanged)
    async def enrollment(session: AsyncSession, data: registration.EnrollmentPayload,
                         event: CloudEvent) -> None:
        await DeterminationService(session, outbox, plans).repo.lock_shared()
        if await FactsRepository(session).apply_enrollment(data.wire()):
            await service(session).follow(data.person_id, data.plan_year, event.type)

    @router.on(payments.PaymentReceived, payments.PaymentRefunded, payments.PaymentReversed)
    async def payment(session: AsyncSession, data: payments.PaymentPayload,
                      event: CloudEvent) -> None:
        await FactsRepository(session).apply_payment(data.wire())

    return router


def consumer_spec(plans: PlanRegistry, outbox: Outbox) -> ConsumerSpec:
    return ConsumerSpec("eligibility", TOPICS, build_router(plans, outbox))
