"""Staff resolve suspense: match the money to a person's order, or send it back (refund)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import events
from services.payments.coverage import CoverageCalculator
from services.payments.dues.repository import DueRepository
from services.payments.matching.service import Matcher
from services.payments.orders.repository import OrderRepository
from services.payments.suspense.repository import (
    SuspenseRepository,
    SuspenseRow,
    suspense_payload,
)
from shared.errors import Conflict, Invalid, NotFound
from shared.outbox import Outbox

_OCCURRED = text("SELECT occurred_at FROM payments.ledger WHERE id = :id")


class SuspenseService:
    def __init__(self, session: AsyncSession, outbox: Outbox, coverage: CoverageCalculator) -> None:
        self.session = session
        self.outbox = outbox
        self.repo = SuspenseRepository(session)
        self.matcher = Matcher(session, outbox, coverage)

    async def list(self, status: str | None, limit: int, offset: int) -> list[SuspenseRow]:
        return await self.repo.list(status, limit, offset)

    async def resolve(self, suspense_id: int, action: str, person_id: uuid.UUID | None,
                      plan_year: int | None, note: str | None) -> SuspenseRow:
        item = await self.repo.get(suspense_id, for_update=True)
        if item is None:
            raise NotFound("no such suspense item", code="suspense_not_found")
        if item.status != "open":
            raise Conflict("this suspense item is already resolved", code="already_resolved")
        resolution: dict[str, Any] = {"action": action, "note": note}
        if action == "match-to-person":
            resolution.update(await self._match(item, person_id, plan_year))
        resolved = await self.repo.resolve(suspense_id, resolution)
        await self.outbox.add(self.session, topic=events.TOPIC_OF[events.SUSPENSE_RESOLVED],
                              event_type=events.SUSPENSE_RESOLVED,
                              data=suspense_payload(resolved),
                              key=str(resolved.person_id or resolved.order_no),
                              subject=str(resolved.id))
        return resolved

    async def _match(self, item: SuspenseRow, person_id: uuid.UUID | None,
                     plan_year: int | None) -> dict[str, Any]:
        if item.kind != "payment" or item.ledger_id is None:
            raise Invalid("only payments can be matched to a person", field="action")
        person_id = person_id or item.person_id
        plan_year = plan_year or item.plan_year
        if person_id is None or plan_year is None:
            raise Invalid("person_id and plan_year are required", field="person_id")
        due = await DueRepository(self.session).get(person_id, plan_year)
        if due is None or not due.enrolled:
            raise Conflict("the person is not enrolled for this plan year", code="not_enrolled")
        orders = OrderRepository(self.session)
        live = await orders.live(person_id, plan_year)
        if live is None and due.personal_fen > 0:
            await orders.issue(person_id, plan_year, due.personal_fen, due.revision)
            live = await orders.live(person_id, plan_year)
        if live is None or live.status != "open":
            raise Conflict("the person has nothing open to pay for this year",
                           code="nothing_open")
        if live.amount_fen != item.amount_fen:
            raise Conflict(f"the open order is {live.amount_fen} fen, the money "
                           f"{item.amount_fen} fen: refund it instead", code="amount_mismatch")
        # The ledger entry keeps its channel key; the order now points to that money.
        paid_at = (await self.session.execute(_OCCURRED, {"id": item.ledger_id})).scalar_one()
        start = await self.matcher.apply_payment(live, item.ledger_id, item.channel,
                                                 item.channel_txn_id, paid_at)
        return {"person_id": str(person_id), "plan_year": plan_year,
                "order_no": live.order_no,
                "coverage_start": start.isoformat() if start else None}

