"""Government proxy payments (代缴): finance pays a budget line's subsidies for a list of persons.

A batch is checked whole against the current determinations: the declared count and total must
add up, and each row's amount must equal what that budget line pays for that person. Any problem
rejects the whole batch, with a reason per row. An accepted batch books one ledger entry per
person (kind 'proxy', payer 'government'), keyed so that the same subsidy is never booked twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import events
from services.payments.coverage import CoverageCalculator
from services.payments.dues.repository import DueRepository
from services.payments.ledger.repository import LedgerRepository
from services.payments.matching.service import Matcher, due_facts
from shared.errors import Conflict, DomainError
from shared.outbox import Outbox

S = "payments"
CHANNEL = "government"


@dataclass(frozen=True)
class ProxyLine:
    person_id: uuid.UUID
    amount_fen: int


def proxy_txn_id(plan_year: int, budget_line: str, person_id: uuid.UUID) -> str:
    return f"{plan_year}:{budget_line}:{person_id}"


class ProxyBatchService:
    def __init__(self, session: AsyncSession, outbox: Outbox, coverage: CoverageCalculator) -> None:
        self.session = session
        self.coverage = coverage
        self.matcher = Matcher(session, outbox, coverage)
        self.ledger = LedgerRepository(session)

    async def record(self, *, batch_no: str, budget_line: str, plan_year: int,
                     declared_count: int, declared_total_fen: int,
                     lines: list[ProxyLine]) -> dict[str, Any]:
        exists = (await self.session.execute(
            text(f"SELECT 1 FROM {S}.proxy_batches WHERE batch_no = :b"), {"b": batch_no}
        )).first()
        if exists:
            raise Conflict(f"batch {batch_no} was already recorded", code="batch_exists")
        problems: list[str] = []
        if declared_count != len(lines):
            problems.append(f"declared count {declared_count}, the batch has {len(lines)} rows")
        total = sum(line.amount_fen for line in lines)
        if declared_total_fen != total:
            problems.append(f"declared total {declared_total_fen} fen, the rows add up to {total}")
        dues = await DueRepository(self.session).many([x.person_id for x in lines], plan_year)
        booked = await self._already_booked(plan_year, budget_line, list(dues))
        rows: list[dict[str, Any]] = []
        seen: set[uuid.UUID] = set()
        for number, line in enumerate(lines, start=1):
            reason = None
            due = dues.get(line.person_id)
            if line.person_id in seen:
                reason = "the person appears twice in the batch"
            elif due is None or not due.enrolled:
                reason = f"no current determination: not enrolled for {plan_year}"
            elif due.subsidy_of(budget_line) == 0:
                reason = f"{budget_line} pays no subsidy for this person"
            elif due.subsidy_of(budget_line) != line.amount_fen:
                reason = (f"amount {line.amount_fen} fen, but {budget_line} pays "
                          f"{due.subsidy_of(budget_line)} fen for this person")
            elif line.person_id in booked:
                reason = f"{budget_line} already paid for this person and year"
            seen.add(line.person_id)
            if reason:
                rows.append({"row": number, "person_id": str(line.person_id), "reason": reason})
        if problems or rows:
            raise DomainError("the batch is rejected as a whole; nothing was booked",
                              code="proxy_batch_rejected", status_code=422,
                              details={"problems": problems, "rows": rows})
        batch_id = (await self.session.execute(text(
            f"""INSERT INTO {S}.proxy_batches (batch_no, budget_line, plan_year, declared_count,
                    declared_total_fen) VALUES (:b, :l, :y, :c, :t) RETURNING id"""),
            {"b": batch_no, "l": budget_line, "y": plan_year, "c": declared_count,
             "t": declared_total_fen})).scalar_one()
        now = dt.datetime.now(dt.UTC)
        # One order number per person (the batch's rows are one payment each): reporting and
        # reconciliation key payments by order number.
        for number, line in enumerate(lines, start=1):
            order_no = f"PB-{batch_no}-{number:06d}"
            due = dues[line.person_id]
            decision = self.coverage.decide(due_facts(due), now)
            start = decision.start
            txn = proxy_txn_id(plan_year, budget_line, line.person_id)
            entry_id = await self.ledger.record(
                channel=CHANNEL, channel_txn_id=txn, kind="proxy", order_no=order_no,
                amount_fen=line.amount_fen, occurred_at=now, origin="proxy_batch",
                person_id=line.person_id, plan_year=plan_year, payer="government",
                coverage_start=start, coverage_basis=decision.basis)
            assert entry_id is not None  # checked above, under the batch_no uniqueness
            await self.matcher.emit_payment(
                events.PAYMENT_RECEIVED, due=due, person_id=line.person_id, plan_year=plan_year,
                order_no=order_no, channel=CHANNEL, channel_txn_id=txn, payer="government",
                amount_fen=line.amount_fen, paid_at=now, coverage_start=start,
                revision=entry_id)
        return {"id": batch_id, "batch_no": batch_no, "budget_line": budget_line,
                "plan_year": plan_year, "count": len(lines), "total_fen": total,
                "status": "accepted"}

    async def _already_booked(self, plan_year: int, budget_line: str,
                              person_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        txns = {proxy_txn_id(plan_year, budget_line, p): p for p in person_ids}
        found = (await self.session.execute(text(
            f"""SELECT channel_txn_id FROM {S}.ledger WHERE channel = :c AND kind = 'proxy'
                AND channel_txn_id = ANY(:t)"""), {"c": CHANNEL, "t": list(txns)})).scalars()
        return {txns[t] for t in found}
