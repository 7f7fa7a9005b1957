"""Government proxy payments (代缴): finance pays a budget line's subsidies for a list of persons.

A batch is checked whole against the current determinations: the declared count and total must
add up, and each row's amount must equal what that budget line pays for that person if paid on
the batch's `paid_on` (the day the money actually left, given by the finance office; the day it
is recorded when not given): a batch paid after a person's on-time window pays the late
outcome, in which a subsidy for payments within the period (or every subsidy, where the plan
forfeits them) is not paid, and after the plan year closed nothing is. Any problem rejects the
whole batch, with a reason per row. An accepted batch books one ledger entry per person (kind
'proxy', payer 'government', with its timing), keyed so that the same subsidy is never booked
twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from kernels.codes import budget_line_name
from services.payments import events
from services.payments.channels._support import CHINA_TZ
from services.payments.coverage import CLOSED, CoverageDecision
from services.payments.ledger.posting import LedgerEntry, Posting
from services.payments.proxy.repository import ProxyBatchRepository
from services.payments.scope import require_persons_in_region
from shared.auth import Principal
from shared.errors import Conflict, DomainError, Invalid
from shared.i18n import Text
from shared.money import fen_to_yuan

CHANNEL = "government"


@dataclass(frozen=True)
class ProxyLine:
    person_id: uuid.UUID
    amount_fen: int


def proxy_txn_id(plan_year: int, budget_line: str, person_id: uuid.UUID) -> str:
    return f"{plan_year}:{budget_line}:{person_id}"


class ProxyBatchService:
    def __init__(self, posting: Posting, *, actor: Principal | None = None) -> None:
        """`actor`: who records the batch (None: a trusted internal caller, not checked): a
        budget line of a county pays for people of that county only."""
        self.posting = posting
        self.uow = posting.uow
        self.coverage = posting.coverage
        self.actor = actor
        self.batches = ProxyBatchRepository(posting.uow.session)

    async def record(self, *, batch_no: str, budget_line: str, plan_year: int,
                     declared_count: int, declared_total_fen: int,
                     lines: list[ProxyLine], paid_on: dt.date | None = None) -> dict[str, Any]:
        if self.actor is not None:
            await require_persons_in_region(self.uow.session, self.actor,
                                            (x.person_id for x in lines))
        if await self.batches.exists(batch_no):
            raise Conflict(f"batch {batch_no} was already recorded", code="batch_exists",
                           params={"batch_no": batch_no})
        problems: list[Text] = []
        if declared_count != len(lines):
            problems.append(Text(
                f"申报人数 {declared_count}，批次实有 {len(lines)} 行",
                f"declared count {declared_count}, the batch has {len(lines)} rows"))
        total = sum(line.amount_fen for line in lines)
        if declared_total_fen != total:
            problems.append(Text(
                f"申报总额 {fen_to_yuan(declared_total_fen)} 元，各行合计 {fen_to_yuan(total)} 元",
                f"declared total {declared_total_fen} fen, the rows add up to {total}"))
        now = dt.datetime.now(dt.UTC)
        today = now.astimezone(CHINA_TZ).date()
        paid_on = paid_on or today
        paid_at = now if paid_on == today else dt.datetime.combine(paid_on, dt.time(), CHINA_TZ)
        dues = await self.uow.dues.many([x.person_id for x in lines], plan_year)
        self._check_paid_on(paid_on, today, plan_year, dues.values())
        booked = await self._already_booked(plan_year, budget_line, list(dues))
        rows: list[dict[str, Any]] = []
        seen: set[uuid.UUID] = set()
        decisions: dict[uuid.UUID, CoverageDecision] = {}
        for number, line in enumerate(lines, start=1):
            reason: Text | None = None
            due = dues.get(line.person_id)
            if line.person_id in seen:
                reason = Text("此人在批次中出现两次", "the person appears twice in the batch")
            elif due is None or not due.enrolled:
                reason = Text(f"此人没有 {plan_year} 年度的有效认定：未参加该年度参保",
                              f"no current determination: not enrolled for {plan_year}")
            else:
                decision = decisions[line.person_id] = await self.posting.coverage_for(
                    due, paid_at)
                reason = self._refusal(budget_line, line, due.subsidy_of(budget_line), decision)
            if reason is None and line.person_id in booked:
                name = budget_line_name(budget_line)
                reason = Text(f"{name.zh}已为此人代缴过该年度",
                              f"{name.en} already paid for this person and year")
            seen.add(line.person_id)
            if reason:
                rows.append({"row": number, "person_id": str(line.person_id), "reason": reason})
        if problems or rows:
            raise DomainError("the batch is rejected as a whole; nothing was booked",
                              code="proxy_batch_rejected", status_code=422,
                              details={"problems": problems, "rows": rows})
        batch_id = await self.batches.create(
            batch_no=batch_no, budget_line=budget_line, plan_year=plan_year,
            declared_count=declared_count, declared_total_fen=declared_total_fen,
            paid_on=paid_on)
        # One order number per person (the batch's rows are one payment each): reporting and
        # reconciliation key payments by order number.
        for number, line in enumerate(lines, start=1):
            order_no = f"PB-{batch_no}-{number:06d}"
            due = dues[line.person_id]
            decision = decisions[line.person_id]
            start, timing = decision.start, decision.timing
            txn = proxy_txn_id(plan_year, budget_line, line.person_id)
            entry_id = await self.posting.post(LedgerEntry(
                channel=CHANNEL, channel_txn_id=txn, kind="proxy", order_no=order_no,
                amount_fen=line.amount_fen, occurred_at=paid_at, origin="proxy_batch",
                person_id=line.person_id, plan_year=plan_year, payer="government",
                coverage_start=start, coverage_basis=decision.basis, timing=timing))
            assert entry_id is not None  # checked above, under the batch_no uniqueness
            await self.posting.emit_payment(
                events.PaymentReceived, due=due, person_id=line.person_id, plan_year=plan_year,
                order_no=order_no, channel=CHANNEL, channel_txn_id=txn, payer="government",
                amount_fen=line.amount_fen, paid_at=paid_at, coverage_start=start,
                revision=entry_id, timing=timing, funding_source=budget_line)
        return {"id": batch_id, "batch_no": batch_no, "budget_line": budget_line,
                "plan_year": plan_year, "paid_on": paid_on.isoformat(), "count": len(lines),
                "total_fen": total, "status": "accepted"}

    def _check_paid_on(self, paid_on: dt.date, today: dt.date, plan_year: int,
                       dues: Any) -> None:
        """422 paid_on: a day in the future, or before the collection of the plan year opened
        (the earliest collection start of the plans of the batch's people; two years before
        the plan year where no plan is loaded)."""
        if paid_on > today:
            raise Invalid(f"paid_on: {paid_on.isoformat()} 晚于今天（{today.isoformat()}，"
                          "北京时间）：代缴资金的支付日期不能是将来的日期",
                          field="paid_on", code="paid_on_in_future",
                          params={"paid_on": paid_on.isoformat(), "today": today.isoformat()})
        starts = [p.collection_start for p in (self.coverage.policy(d.region_code, plan_year)
                                               for d in dues) if p is not None]
        earliest = min(starts, default=dt.date(plan_year - 2, 1, 1))
        if paid_on < earliest:
            raise Invalid(f"paid_on: {paid_on.isoformat()} 早于 {plan_year} 年度的集中缴费期开始日"
                          f"（{earliest.isoformat()}）：不是该年度的代缴",
                          field="paid_on", code="paid_on_before_collection",
                          params={"paid_on": paid_on.isoformat(), "plan_year": plan_year,
                                  "earliest": earliest.isoformat()})

    @staticmethod
    def _refusal(budget_line: str, line: ProxyLine, on_time_fen: int,
                 decision: CoverageDecision) -> Text | None:
        """Why this row cannot be booked at the batch's payment date, or None."""
        owed = decision.owed
        name = budget_line_name(budget_line)
        if owed is not None and owed.timing == CLOSED:
            return Text(owed.explanation, owed.explanation_en or owed.explanation)
        pays = owed.subsidy_of(budget_line) if owed is not None else on_time_fen
        if pays == 0 and on_time_fen > 0 and owed is not None:
            until = owed.basis.get("on_time_until")
            return Text(
                f"{name.zh}的资助只给按时缴费的人（截至 {until}）："
                f"按 {owed.paid_on.isoformat()} 支付属逾期缴费，不享受该资助。"
                f"{owed.explanation}",
                f"{name.en} subsidises only those who pay on time (until {until}): paid on "
                f"{owed.paid_on.isoformat()} the payment is late and gets no subsidy. "
                f"{owed.explanation_en or owed.explanation}")
        if pays == 0:
            return Text(f"{name.zh}不资助此人", f"{name.en} pays no subsidy for this person")
        if pays != line.amount_fen:
            paid_on = decision.basis.get("paid_on")
            return Text(
                f"代缴金额 {fen_to_yuan(line.amount_fen)} 元，但按 {paid_on} 支付时"
                f"{name.zh}为此人资助 {fen_to_yuan(pays)} 元",
                f"amount {line.amount_fen} fen, but {name.en} pays {pays} fen for this "
                f"person if paid on {paid_on}")
        return None

    async def _already_booked(self, plan_year: int, budget_line: str,
                              person_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        txns = {proxy_txn_id(plan_year, budget_line, p): p for p in person_ids}
        found = await self.uow.ledger.booked_txns(CHANNEL, "proxy", list(txns))
        return {txns[t] for t in found}
