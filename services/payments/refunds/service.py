"""Refunds due (from eligibility's adjustments) followed to the end."""

from __future__ import annotations

import datetime as dt

from services.payments import events
from services.payments.ledger.posting import LedgerEntry, Posting
from services.payments.refunds.repository import RefundRepository, RefundRow
from services.payments.scope import require_persons_in_region
from shared.auth import Principal
from shared.errors import Conflict, NotFound


class RefundService:
    def __init__(self, posting: Posting, *, actor: Principal | None = None) -> None:
        """`actor`: who completes refunds (None: a trusted internal caller, not checked)."""
        self.posting = posting
        self.uow = posting.uow
        self.actor = actor
        self.repo = RefundRepository(posting.uow.session)

    async def list(self, status: str | None, limit: int, after: int | None = None, *,
                   region_prefix: str | None = None) -> list[RefundRow]:
        return await self.repo.list(status, limit, after, region_prefix=region_prefix)

    async def complete(self, refund_id: int, reference: str) -> RefundRow:
        if self.actor is not None:
            peek = await self.repo.get(refund_id)
            if peek is not None:
                await require_persons_in_region(self.uow.session, self.actor, [peek.person_id])
        refund = await self.repo.get(refund_id, for_update=True)
        if refund is None:
            raise NotFound("no such refund", code="refund_not_found")
        if refund.status != "due":
            raise Conflict("this refund is already completed", code="already_completed")
        orders, ledger = self.uow.orders, self.uow.ledger
        order = await orders.get(refund.order_no, for_update=True) if refund.order_no else None
        channel = (order.channel if order and order.channel else "adjustment")
        payment_txn = order.channel_txn_id if order is not None else None
        before = 0
        if payment_txn:
            # The refunds of one payment are summed (under the order's row lock): a channel's
            # own notification of this refund (an Alipay running total) then books only what
            # is not booked here.
            before = sum(e.amount_fen for e in await ledger.refunds_of(channel, payment_txn))
        now = dt.datetime.now(dt.UTC)
        entry_id = await self.posting.post(LedgerEntry(
            channel=channel, channel_txn_id=reference, kind="refund", order_no=refund.order_no,
            amount_fen=refund.amount_fen, occurred_at=now, origin="adjustment",
            person_id=refund.person_id, plan_year=refund.plan_year,
            coverage_start=order.coverage_start if order else None, refers_to=payment_txn))
        if entry_id is None:
            raise Conflict(f"refund reference {reference} is already booked on {channel}",
                           code="reference_used",
                           params={"reference": reference, "channel": channel})
        full = order is None or before + refund.amount_fen >= order.amount_fen
        if order is not None and full:
            await orders.mark_refunded(order.order_no)
        if full:
            # A partial refund (the person now owes less and stays paid) is no payment event:
            # payments.payment_refunded.v1 says the payment no longer counts.
            due = await self.uow.dues.get(refund.person_id, refund.plan_year)
            await self.posting.emit_payment(
                events.PaymentRefunded, due=due, person_id=refund.person_id,
                plan_year=refund.plan_year, order_no=refund.order_no or "", channel=channel,
                channel_txn_id=reference, payer="person", amount_fen=refund.amount_fen,
                paid_at=now, coverage_start=order.coverage_start if order else None,
                revision=entry_id)
        return await self.repo.complete(refund_id, reference)
