"""Consumer of registration.person.v1 and eligibility.determination.v1: who can be billed,
what they owe now. A changed amount closes the open order and issues a new one."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import eligibility, registration
from services.payments.dues.repository import DueRepository
from services.payments.orders.repository import OrderRepository
from services.payments.refunds.repository import RefundRepository
from shared.events import CloudEvent
from shared.inbox import EventRouter

log = logging.getLogger(__name__)

router = EventRouter()


@router.on(registration.PersonRegistered, registration.PersonChanged)
async def on_person(session: AsyncSession, data: registration.PersonPayload,
                    event: CloudEvent) -> None:
    await DueRepository(session).upsert_person(data.wire())


async def apply_determination(session: AsyncSession, data: dict) -> bool:  # type: ignore[type-arg]
    dues = DueRepository(session)
    if not await dues.upsert_due(data):
        return False  # older than the determination we hold: reordered or replayed
    await refresh_order(session, uuid.UUID(data["person_id"]), int(data["plan_year"]))
    return True


async def refresh_order(session: AsyncSession, person_id: uuid.UUID, plan_year: int) -> None:
    """Make the live order agree with the current determination: an open order for the on-time
    amount, or for the late amount (the bill reprices it when the day makes the person late:
    a subsidized person may owe nothing on time and the full cost late)."""
    due = await DueRepository(session).get(person_id, plan_year)
    orders = OrderRepository(session)
    live = await orders.live(person_id, plan_year)
    enrolled = due is not None and due.enrolled
    owes = enrolled and due is not None and due.personal_fen > 0
    if live is not None and live.status == "open":
        late_fen = int(due.late["personal_fen"]) if due is not None and due.late else 0
        if enrolled and due is not None and live.amount_fen in (
                due.personal_fen, late_fen) and live.amount_fen > 0:
            return
        await orders.close(live.order_no)
        live = None
    if live is None and owes and due is not None:
        await orders.issue(person_id, plan_year, due.personal_fen, due.revision)


@router.on(eligibility.DeterminationChanged)
async def on_determination(session: AsyncSession, data: eligibility.DeterminationChanged,
                           event: CloudEvent) -> None:
    await apply_determination(session, data.wire())


@router.on(eligibility.AdjustmentDue)
async def on_adjustment(session: AsyncSession, data: eligibility.AdjustmentDue,
                        event: CloudEvent) -> None:
    await apply_determination(session, data.wire())
    person_id, plan_year = data.person_id, data.plan_year
    paid = await OrderRepository(session).paid_for(person_id, plan_year)
    await RefundRepository(session).add_due(
        person_id=person_id, plan_year=plan_year, due_revision=data.revision,
        order_no=paid.order_no if paid else None, paid_fen=data.paid_fen,
        amount_fen=data.refund_due_fen, reason="缴费后认定结果变更：多缴部分应退")
