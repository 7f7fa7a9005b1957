"""The `payments-processor` consumer: payments' own work queue, payments.notification.v1."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.payments import NotificationReceived
from services.payments.coverage import CoverageCalculator
from services.payments.ledger.posting import Posting, UnitOfWork
from services.payments.matching.service import Matcher
from shared.events import CloudEvent
from shared.inbox import EventRouter, Handler
from shared.outbox import Outbox


def processor(outbox: Outbox, coverage: CoverageCalculator) -> Handler:
    router = EventRouter()

    @router.on(NotificationReceived)
    async def on_notification(session: AsyncSession, data: NotificationReceived,
                              event: CloudEvent) -> None:
        await Matcher(Posting(UnitOfWork(session, outbox), coverage)).process(data.wire())

    return router
