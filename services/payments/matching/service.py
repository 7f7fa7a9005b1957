"""Matching: apply one verified notification to the ledger and the order's state machine.

Runs inside the inbox transaction of the `payments-processor` consumer. Idempotent on
(channel, channel_txn_id, kind): a second notification for the same money changes nothing.
The order only moves forward (open -> paid -> refunded, open -> closed), so late or reordered
notifications are no-ops; money that cannot be applied goes to suspense with a reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import events
from services.payments.channels import STATUS_CLOSED, STATUS_SUCCEEDED
from services.payments.coverage import CoverageCalculator, DueFacts
from services.payments.dues.repository import DueRepository, DueRow
from services.payments.ledger.repository import LedgerRepository
from services.payments.orders.repository import OrderRepository, OrderRow
from services.payments.suspense.repository import SuspenseRepository, suspense_payload
from shared.outbox import Outbox

log = logging.getLogger(__name__)


def due_facts(due: DueRow) -> DueFacts:
    return DueFacts(region_code=due.region_code, plan_year=due.plan_year,
                    insured_category=due.insured_category, coverage_start=due.coverage_start,
                    subsidized=bool(due.subsidies), birth_date=due.birth_date)


class Matcher:
    def __init__(self, session: AsyncSession, outbox: Outbox, coverage: CoverageCalculator) -> None:
        self.session = session
        self.outbox = outbox
        self.coverage = coverage
        self.orders = OrderRepository(session)
        self.ledger = LedgerRepository(session)
        self.dues = DueRepository(session)
        self.suspense = SuspenseRepository(session)

    async def process(self, n: dict[str, Any]) -> str:
        """Apply a normalized notification; returns what happened (stored on the notification)."""
        outcome = await self._apply(n)
        if n.get("notification_id"):
            await self.session.execute(
                text("UPDATE payments.notifications SET status = :s WHERE id = :id"),
                {"s": outcome, "id": uuid.UUID(n["notification_id"])})
        return outcome

    async def _apply(self, n: dict[str, Any]) -> str:
        kind, status = n["kind"], n["status"]
        if kind == "close" and status == STATUS_CLOSED:
            closed = await self.orders.close(n["order_no"])
            return "closed" if closed else "no_op"
        if status != STATUS_SUCCEEDED or kind not in ("payment", "refund"):
            return "ignored"  # pending, failed, closed refunds: no money moved
        paid_at = dt.datetime.fromisoformat(n["paid_at"])
        entry_id = await self.ledger.record(
            channel=n["channel"], channel_txn_id=n["channel_txn_id"], kind=kind,
            order_no=n["order_no"], amount_fen=int(n["amount_fen"]), occurred_at=paid_at,
            origin=n.get("origin", "webhook"),
            notification_id=uuid.UUID(n["notification_id"]) if n.get("notification_id") else None)
        if entry_id is None:
            return "duplicate"
        order = await self.orders.get(n["order_no"], for_update=True)
        if kind == "payment":
            return await self._payment(n, entry_id, order, paid_at)
        return await self._refund(n, entry_id, order, paid_at)

    async def _payment(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                       paid_at: dt.datetime) -> str:
        amount = int(n["amount_fen"])
        if order is None:
            return await self._to_suspense(n, entry_id, None, "unknown_order",
                                           f"no order {n['order_no']}")
        if order.status == "open":
            if amount != order.amount_fen:
                reason = "underpaid" if amount < order.amount_fen else "overpaid"
                return await self._to_suspense(
                    n, entry_id, order, reason, f"paid {amount} fen, order is {order.amount_fen}")
            await self.apply_payment(order, entry_id, n["channel"], n["channel_txn_id"], paid_at)
            return "paid"
        if order.status == "paid":
            return await self._to_suspense(
                n, entry_id, order, "paid_twice",
                f"order already paid through {order.channel} {order.channel_txn_id}")
        other = await self.orders.paid_for(order.person_id, order.plan_year)
        if other is not None:
            return await self._to_suspense(
                n, entry_id, order, "paid_twice",
                f"order {order.order_no} is {order.status}; {other.order_no} already paid "
                f"through {other.channel}")
        return await self._to_suspense(n, entry_id, order, "no_open_order",
                                       f"order {order.order_no} is {order.status}")

    async def apply_payment(self, order: OrderRow, entry_id: int, channel: str,
                            channel_txn_id: str, paid_at: dt.datetime) -> dt.date | None:
        """Open order -> paid, with the coverage start its payment date gives; event out."""
        due = await self.dues.get(order.person_id, order.plan_year)
        start = self.coverage.start(due_facts(due), paid_at) if due else None
        await self.orders.mark_paid(order.order_no, channel, channel_txn_id, paid_at, start)
        await self.ledger.update(entry_id, outcome="applied", person_id=order.person_id,
                                 plan_year=order.plan_year, coverage_start=start,
                                 order_no=order.order_no)
        await self.emit_payment(events.PAYMENT_RECEIVED, due=due, person_id=order.person_id,
                                plan_year=order.plan_year, order_no=order.order_no,
                                channel=channel, channel_txn_id=channel_txn_id, payer="person",
                                amount_fen=order.amount_fen, paid_at=paid_at,
                                coverage_start=start, revision=entry_id)
        return start

    async def _refund(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                      paid_at: dt.datetime) -> str:
        amount = int(n["amount_fen"])
        if order is None:
            return await self._to_suspense(n, entry_id, None, "unknown_order",
                                           f"refund for unknown order {n['order_no']}")
        original = _refunded_payment(n)
        if order.status == "paid" and original and original != order.channel_txn_id:
            return await self._to_suspense(
                n, entry_id, order, "refund_of_other_payment",
                f"refund of {original}, the order was paid by {order.channel_txn_id}")
        if order.status != "paid":
            return await self._to_suspense(n, entry_id, order, "refund_without_payment",
                                           f"order {order.order_no} is {order.status}")
        if amount != order.amount_fen:
            return await self._to_suspense(
                n, entry_id, order, "partial_refund",
                f"refund of {amount} fen, the order was paid {order.amount_fen}")
        await self.orders.mark_refunded(order.order_no)
        await self.ledger.update(entry_id, outcome="applied", person_id=order.person_id,
                                 plan_year=order.plan_year, coverage_start=order.coverage_start)
        due = await self.dues.get(order.person_id, order.plan_year)
        await self.emit_payment(events.PAYMENT_REFUNDED, due=due, person_id=order.person_id,
                                plan_year=order.plan_year, order_no=order.order_no,
                                channel=n["channel"], channel_txn_id=n["channel_txn_id"],
                                payer="person", amount_fen=amount, paid_at=paid_at,
                                coverage_start=order.coverage_start, revision=entry_id)
        return "refunded"

    async def _to_suspense(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                           reason: str, detail: str) -> str:
        person_id = order.person_id if order else None
        plan_year = order.plan_year if order else None
        await self.ledger.update(entry_id, outcome="suspense", person_id=person_id,
                                 plan_year=plan_year)
        row = await self.suspense.open(
            ledger_id=entry_id, channel=n["channel"], channel_txn_id=n["channel_txn_id"],
            kind=n["kind"], order_no=n["order_no"], person_id=person_id, plan_year=plan_year,
            amount_fen=int(n["amount_fen"]), reason=reason, detail=detail)
        if row is not None:
            log.warning("suspense %s: %s %s %s: %s", row.id, n["channel"], n["channel_txn_id"],
                        reason, detail)
            await self.outbox.add(self.session, topic=events.TOPIC_OF[events.SUSPENSE_OPENED],
                                  event_type=events.SUSPENSE_OPENED, data=suspense_payload(row),
                                  key=str(person_id) if person_id else n["order_no"],
                                  subject=str(row.id))
        return "suspense"

    async def emit_payment(self, event_type: str, *, due: DueRow | None, person_id: uuid.UUID,
                           **fields: Any) -> None:
        county = township = village = None
        if due is not None:
            county, township, village = due.county_code, due.township_code, due.village_code
        data = events.payment_payload(event_type, person_id=person_id, county_code=county,
                                      township_code=township, village_code=village, **fields)
        await self.outbox.add(self.session, topic=events.TOPIC_OF[event_type],
                              event_type=event_type, data=data, key=str(person_id),
                              subject=fields.get("order_no"))


def _refunded_payment(n: dict[str, Any]) -> str | None:
    return n.get("refunds_txn_id")
