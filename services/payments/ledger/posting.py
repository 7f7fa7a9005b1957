"""The posting core: how money gets into the ledger and what follows from it.

Everything that books money depends on this module and nothing else: matching (channel
notifications), refunds (adjustments paid back), suspense (staff matching or reversing money),
proxy payments (budget lines) and, through `Posting.post`, any new source of money (a tax hall's
collections, for one). It works over a `UnitOfWork`: one database transaction, its
repositories and the outbox its events go to, committed once by whoever opened it (the HTTP
edge, `services/payments/deps.py`, or the inbox consumer's transaction for matching).

The public API:

    Posting.post(entry)             book one movement once; None when its key is already booked
    Posting.post_payment(entry)     the same for a payment, with whether it was reversed already
    Posting.apply_payment(...)      an open order becomes paid by a booked payment (event out)
    Posting.apply_payments(paid)    the same for many orders, one statement per step
    Posting.to_suspense(...)        booked money that cannot be applied goes to suspense (event)
    Posting.resolve_suspense(...)   a suspense item is settled (event)
    Posting.reopen_suspense(...)    a resolved item is open again (event)
    Posting.emit_payment(...)       payments.payment_*.v1 for one person
    Posting.coverage_for(...)       what a payment on a date owes and the coverage it gives
    Posting.lock_payment(...)       serialize everything that touches one payment
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.base import EventModel
from contracts.payments import PaymentPayload
from services.payments import events
from services.payments.coverage import (
    CLOSED,
    CoverageCalculator,
    CoverageDecision,
    DueFacts,
    enrollment_history,
)
from services.payments.dues.repository import DueRepository, DueRow
from services.payments.ledger.repository import LedgerRepository, LedgerRow
from services.payments.orders.repository import OrderRepository, OrderRow
from services.payments.suspense.repository import (
    SuspenseRepository,
    SuspenseRow,
    publish_suspense,
)
from services.payments.webhooks.repository import NotificationRepository
from shared.errors import Conflict
from shared.observability import correlation_id
from shared.outbox import Outbox

log = logging.getLogger(__name__)


class UnitOfWork:
    """One transaction of payments: the session, the repositories over it and the outbox its
    events are written to (in the same transaction). Whoever opens it commits it, once."""

    def __init__(self, session: AsyncSession, outbox: Outbox) -> None:
        self.session = session
        self.outbox = outbox
        self.ledger = LedgerRepository(session)
        self.orders = OrderRepository(session)
        self.dues = DueRepository(session)
        self.suspense = SuspenseRepository(session)
        self.notifications = NotificationRepository(session)

    async def publish(self, event: EventModel, *, subject: str | None) -> None:
        """One event (a contracts/ model) into the outbox, in this transaction."""
        await self.outbox.add(self.session, event, subject=subject)


@dataclass(frozen=True)
class LedgerEntry:
    """One money movement, keyed by (channel, channel_txn_id, kind). `origin`: where it came
    from (webhook, statement, proxy_batch, adjustment, staff, ...); `refers_to`: for refunds
    and reversals, the channel id of the payment they give back."""

    channel: str
    channel_txn_id: str
    kind: str
    order_no: str | None
    amount_fen: int
    occurred_at: dt.datetime
    origin: str = "webhook"
    person_id: uuid.UUID | None = None
    plan_year: int | None = None
    payer: str = "person"
    coverage_start: dt.date | None = None
    notification_id: uuid.UUID | None = None
    outcome: str = "applied"
    refers_to: str | None = None
    coverage_basis: dict[str, Any] | None = None
    timing: str | None = None

    def __post_init__(self) -> None:
        if type(self.amount_fen) is not int or self.amount_fen < 0:
            raise ValueError("amount_fen must be a non-negative int (fen)")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be an aware datetime")


@dataclass(frozen=True)
class Money:
    """The money a suspense item holds: what was booked, as it arrived."""

    channel: str
    channel_txn_id: str
    kind: str
    order_no: str | None
    amount_fen: int


def due_facts(due: DueRow) -> DueFacts:
    return DueFacts(region_code=due.region_code, plan_year=due.plan_year,
                    insured_category=due.insured_category, coverage_start=due.coverage_start,
                    subsidized=bool(due.subsidies), birth_date=due.birth_date,
                    standard_fen=due.standard_fen, personal_fen=due.personal_fen,
                    surcharge_fen=due.surcharge_fen, subsidies=tuple(due.subsidies or ()),
                    on_time_until=due.on_time_until, payable_until=due.payable_until,
                    late=due.late, has_terms=due.on_time_until is not None)


@dataclass(frozen=True)
class Priced:
    """What an order's person owes on a payment's date: the due as payments holds it (None
    without a determination) and the coverage decision it gives. Read once per payment, by
    `Posting.price`, and handed on to `Posting.apply_payment`."""

    due: DueRow | None
    decision: CoverageDecision


@dataclass(frozen=True)
class Settlement:
    """An open order paid by a booked payment (`entry_id`), priced at its date; `amount_fen`
    None: what the order was issued for. `correlation`: the request or event it comes from
    (the current one unless given), carried by the event it sends."""

    order: OrderRow
    entry_id: int
    channel: str
    channel_txn_id: str
    paid_at: dt.datetime
    priced: Priced
    amount_fen: int | None = None
    correlation: str | None = field(default_factory=correlation_id.get)


class Posting:
    """Ledger posting over one unit of work (see the module's docstring)."""

    def __init__(self, uow: UnitOfWork, coverage: CoverageCalculator) -> None:
        self.uow = uow
        self.coverage = coverage

    async def post(self, entry: LedgerEntry) -> int | None:
        """Book one movement; its id, or None when (channel, channel_txn_id, kind) is already
        booked (the second delivery of the same money changes nothing)."""
        return await self.uow.ledger.record(**asdict(entry))

    async def post_payment(self, entry: LedgerEntry) -> tuple[int, bool] | None:
        """`post` for a payment, after `lock_payment`: its id and whether the channel's reversal
        of it is already booked; None when the payment is already booked."""
        return await self.uow.ledger.record_payment(**asdict(entry))

    async def lock_payment(self, channel: str, payment_txn_id: str) -> None:
        """Serialize the refunds, reversals and staff actions of one payment until the unit of
        work ends."""
        await self.uow.ledger.lock_payment(channel, payment_txn_id)

    async def coverage_for(self, due: DueRow | None, paid_at: dt.datetime, *,
                           before_history: Callable[[], Awaitable[None]] | None = None
                           ) -> CoverageDecision:
        """The coverage start this payment gives, with its basis; the person's earlier years are
        read only when the plan's waiting period depends on them (a late payment), after
        `before_history` (matching a batch applies what it set aside first)."""
        if due is None:
            return CoverageDecision(None, {
                "timing": "no_determination", "coverage_start": None,
                "explanation": "未收到该人员该年度的确定结果：待遇起始日未知", "assumptions": []})
        facts = due_facts(due)
        history = None
        if self.coverage.needs_history(facts, paid_at):
            if before_history is not None:
                await before_history()
            dues = self.uow.dues
            prior = await dues.prior_years(due.person_id, due.plan_year)
            first = await dues.first_plan_year(due.region_code)
            ends = self.coverage.plan_ends(due.region_code, sorted(prior))
            history = enrollment_history(due.plan_year, due.region_code, prior, first, ends)
        return self.coverage.decide(facts, paid_at, history)

    async def price(self, order: OrderRow, paid_at: dt.datetime) -> Priced:
        """The order's due and what a payment on `paid_at` owes and covers."""
        return await self.priced(await self.uow.dues.get(order.person_id, order.plan_year),
                                 paid_at)

    async def priced(self, due: DueRow | None, paid_at: dt.datetime, *,
                     before_history: Callable[[], Awaitable[None]] | None = None) -> Priced:
        """`price` with the order's due already read (`OrderRepository.get_with_due`)."""
        return Priced(due, await self.coverage_for(due, paid_at,
                                                   before_history=before_history))

    async def apply_payment(self, order: OrderRow, entry_id: int, channel: str,
                            channel_txn_id: str, paid_at: dt.datetime, *,
                            priced: Priced | None = None,
                            amount_fen: int | None = None) -> dt.date | None:
        """Open order -> paid, with the coverage start and timing its payment date gives; event
        out. The order records the amount paid (what was owed at that date). 409
        plan_year_closed when the date is after the year takes payments. `priced`: the
        caller's `price(order, paid_at)`, when it already read it."""
        priced = priced or await self.price(order, paid_at)
        await self.apply_payments([Settlement(order, entry_id, channel, channel_txn_id, paid_at,
                                              priced, amount_fen)])
        return priced.decision.start

    async def apply_payments(self, paid: Sequence[Settlement]) -> None:
        """`apply_payment` for several orders at once (matching a consumer batch): each step is
        one statement for all of them, the events go out in the given order."""
        if not paid:
            return
        for p in paid:
            if p.priced.decision.timing == CLOSED:
                assert p.priced.decision.owed is not None
                raise Conflict(p.priced.decision.owed.explanation, code="plan_year_closed")
        orders, ledger = self.uow.orders, self.uow.ledger
        await orders.mark_paid_many([orders.paid_params(
            p.order.order_no, p.channel, p.channel_txn_id, p.paid_at, p.priced.decision.start,
            p.priced.decision.basis, amount_fen=self._amount(p), timing=p.priced.decision.timing)
            for p in paid])
        await ledger.update_many([ledger.update_params(
            p.entry_id, outcome="applied", person_id=p.order.person_id,
            plan_year=p.order.plan_year, coverage_start=p.priced.decision.start,
            order_no=p.order.order_no, coverage_basis=p.priced.decision.basis,
            timing=p.priced.decision.timing) for p in paid])
        await self.uow.outbox.add_many(self.uow.session, [payment_event(
            events.PaymentReceived, due=p.priced.due, person_id=p.order.person_id,
            plan_year=p.order.plan_year, order_no=p.order.order_no, channel=p.channel,
            channel_txn_id=p.channel_txn_id, payer="person", amount_fen=self._amount(p),
            paid_at=p.paid_at, coverage_start=p.priced.decision.start, revision=p.entry_id,
            timing=p.priced.decision.timing) for p in paid],
            subjects=[p.order.order_no for p in paid],
            correlations=[p.correlation for p in paid])

    @staticmethod
    def _amount(p: Settlement) -> int:
        return p.order.amount_fen if p.amount_fen is None else p.amount_fen

    async def to_suspense(self, money: Money, entry_id: int, order: OrderRow | None,
                          reason: str, detail: str) -> SuspenseRow | None:
        """Booked money that cannot be applied: the entry is in suspense, with the reason; the
        item is opened once (None when it already was)."""
        person_id = order.person_id if order else None
        plan_year = order.plan_year if order else None
        await self.uow.ledger.update(entry_id, outcome="suspense", person_id=person_id,
                                     plan_year=plan_year)
        row = await self.uow.suspense.open(
            ledger_id=entry_id, channel=money.channel, channel_txn_id=money.channel_txn_id,
            kind=money.kind, order_no=money.order_no, person_id=person_id, plan_year=plan_year,
            amount_fen=money.amount_fen, reason=reason, detail=detail)
        if row is not None:
            log.warning("suspense %s: %s %s %s: %s", row.id, money.channel,
                        money.channel_txn_id, reason, detail)
            await publish_suspense(self.uow.outbox, self.uow.session, events.SuspenseOpened, row)
        return row

    async def resolve_suspense(self, item: SuspenseRow, resolution: dict[str, Any]) -> SuspenseRow:
        resolved = await self.uow.suspense.resolve(item.id, {"note": None, **resolution})
        await publish_suspense(self.uow.outbox, self.uow.session, events.SuspenseResolved,
                               resolved)
        return resolved

    async def reopen_suspense(self, item_id: int, detail: str) -> SuspenseRow:
        reopened = await self.uow.suspense.reopen(item_id, detail)
        await publish_suspense(self.uow.outbox, self.uow.session, events.SuspenseOpened,
                               reopened)
        return reopened

    async def settle_partial_refunds(self, booked: list[LedgerRow], order: OrderRow,
                                     entry_id: int) -> None:
        """Earlier partial refunds of a payment now refunded in full leave suspense."""
        waiting = [e.id for e in booked if e.outcome == "suspense"]
        for item in await self.uow.suspense.open_for_ledger(waiting):
            if item.reason != "partial_refund":
                continue
            await self.uow.ledger.update(item.ledger_id or 0, outcome="applied",
                                         person_id=order.person_id, plan_year=order.plan_year,
                                         coverage_start=order.coverage_start)
            await self.resolve_suspense(item, {
                "action": "settled", "ledger_id": entry_id,
                "note": f"order {order.order_no} is now refunded in full (ledger {entry_id})"})

    async def emit_payment(self, event_type: type[PaymentPayload], *, due: DueRow | None,
                           person_id: uuid.UUID, **fields: Any) -> None:
        """payments.payment_{received,refunded,reversed}.v1, keyed by the person, with the
        person's region as the determination gives it."""
        await self.uow.publish(payment_event(event_type, due=due, person_id=person_id, **fields),
                               subject=fields.get("order_no"))


def payment_event(event_type: type[PaymentPayload], *, due: DueRow | None,
                  person_id: uuid.UUID, **fields: Any) -> PaymentPayload:
    """One person's payment event, with the person's region as the determination gives it."""
    county = township = village = None
    if due is not None:
        county, township, village = due.county_code, due.township_code, due.village_code
    return events.payment_event(event_type, person_id=person_id, county_code=county,
                                township_code=township, village_code=village, **fields)
