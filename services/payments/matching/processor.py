"""The `payments-processor` consumer: payments' own work queue, payments.notification.v1,
matched a partition's batch at a time (services/payments/matching/batch.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.payments import NotificationReceived
from services.payments.coverage import CoverageCalculator
from services.payments.ledger.posting import Posting, UnitOfWork
from services.payments.matching.batch import BatchMatcher
from shared.events import CloudEvent
from shared.inbox import EventRouter, Handler
from shared.outbox import Outbox


def processor(outbox: Outbox, coverage: CoverageCalculator) -> Handler:
    router = EventRouter()

    @router.on_batch(NotificationReceived)
    async def on_notifications(session: AsyncSession,
                               batch: list[tuple[NotificationReceived, CloudEvent]]) -> None:
        await BatchMatcher(Posting(UnitOfWork(session, outbox), coverage)).process_all(
            [(data.wire(), event.correlationid) for data, event in batch])

    return router
