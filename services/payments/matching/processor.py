"""The `payments-processor` consumer: payments' own work queue, payments.notification.v1."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import events
from services.payments.coverage import CoverageCalculator
from services.payments.ledger.posting import Posting, UnitOfWork
from services.payments.matching.service import Matcher
from shared.events import CloudEvent
from shared.inbox import EventRouter, Handler
from shared.outbox import Outbox


def processor(outbox: Outbox, coverage: CoverageCalculator) -> Handler:
    router = EventRouter()

    @router.on(events.NOTIFICATION_RECEIVED)
    async def on_notification(session: AsyncSession, event: CloudEvent) -> None:
        await Matcher(Posting(UnitOfWork(session, outbox), coverage)).process(event.data)

    return router
