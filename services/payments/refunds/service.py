"""Refunds due (from eligibility's adjustments) followed to the end."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import events
from services.payments.coverage import CoverageCalculator
from services.payments.dues.repository import DueRepository
from services.payments.ledger.repository import LedgerRepository
from services.payments.matching.service import Matcher
from services.payments.orders.repository import OrderRepository
from services.payments.refunds.repository import RefundRepository, RefundRow
from shared.errors import Conflict, NotFound
from shared.outbox import Outbox


class RefundService:
    def __init__(self, session: AsyncSession, outbox: Outbox, coverage: CoverageCalculator) -> None:
        self.session = session
        self.repo = RefundRepository(session)
        self.matcher = Matcher(session, outbox, coverage)

    async def list(self, status: str | None, limit: int, offset: int) -> list[RefundRow]:
        return await self.repo.list(status, limit, offset)

    async def complete(self, refund_id: int, reference: str) -> RefundRow:
        refund = await self.repo.get(refund_id, for_update=True)
        if refund is None:
            raise NotFound("no such refund", code="refund_not_found")
        if refund.status != "due":
            raise Conflict("this refund is already completed", code="already_completed")
        orders = OrderRepository(self.session)
        order = await orders.get(refund.order_no, for_update=True) if refund.order_no else None
        channel = (order.channel if order and order.channel else "adjustment")
        now = dt.datetime.now(dt.UTC)
        entry_id = await LedgerRepository(self.session).record(
            channel=channel, channel_txn_id=reference, kind="refund", order_no=refund.order_no,
            amount_fen=refund.amount_fen, occurred_at=now, origin="adjustment",
            person_id=refund.person_id, plan_year=refund.plan_year,
            coverage_start=order.coverage_start if order else None)
        if entry_id is None:
            raise Conflict(f"refund reference {reference} is already booked on {channel}",
                           code="reference_used")
        if order is not None and order.amount_fen == refund.amount_fen:
            await orders.mark_refunded(order.order_no)
        due = await DueRepository(self.session).get(refund.person_id, refund.plan_year)
        await self.matcher.emit_payment(
            events.PAYMENT_REFUNDED, due=due, person_id=refund.person_id,
            plan_year=refund.plan_year, order_no=refund.order_no or "", channel=channel,
            channel_txn_id=reference, payer="person", amount_fen=refund.amount_fen,
            paid_at=now, coverage_start=order.coverage_start if order else None,
            revision=entry_id)
        return await self.repo.complete(refund_id, reference)
