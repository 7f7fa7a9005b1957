"""The events payments publishes: payments booked and undone, money in suspense, the daily
reconciliation with each channel, and its own work queue of verified notifications."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import Field

from contracts.base import EventModel, Fen, Part, RegionCode, Timestamp
from kernels.codes import BudgetLine
from shared import topics


class NotificationReceived(EventModel):
    """A verified, stored channel notification, normalized: payments' own work queue
    (payments.notification.v1, key: order_no). Only payments consumes it (consumer
    `payments-processor`). `channel_txn_id` is, for a reversal, the reversed payment's;
    `refunds_txn_id` the channel's id of the payment a refund gives back, when it says so."""

    TOPIC = topics.PAYMENTS_NOTIFICATION
    TYPE = "payments.notification_received.v1"
    KEY = "order_no"
    EXAMPLE = {
        "notification_id": "0190e0f3-1a2b-7c3d-8e4f-5a6b7c8d9e0f", "channel": "wechatpay",
        "event_id": "EV-1", "kind": "payment", "channel_txn_id": "4200001234",
        "order_no": "CB2025…", "amount_fen": 40000, "paid_at": "2024-12-01T02:00:00+00:00",
        "status": "succeeded", "origin": "webhook", "refunds_txn_id": None}

    notification_id: uuid.UUID
    channel: str
    event_id: str
    kind: Literal["payment", "refund", "close", "reversal"]
    channel_txn_id: str
    order_no: str
    amount_fen: Fen
    paid_at: Timestamp
    status: Literal["succeeded", "pending", "failed", "closed"]
    origin: Literal["webhook", "statement"]
    refunds_txn_id: str | None


class PaymentPayload(EventModel):
    """A payment of a person-year booked or undone (payments.payment.v1, key: person_id).

    `revision` grows per order (the ledger entry id). `funding_source` is the budget line a
    government proxy payment paid (null for a person's own payment); `timing` is `on_time` or
    `late` (which outcome of the determination the payment settled, decided by `owed_on` at the
    payment's Beijing date: for a proxy batch, the `paid_on` the finance office gave). A refund
    or reversal carries the timing of the payment it undoes (null for payments booked before
    timing was recorded). A person's payment must be exactly what is owed at its date: a late
    payment of only the on-time amount goes to suspense as `underpaid`, a payment after the year
    closed as `plan_year_closed`. A person-year is paid when the person's own part and every
    government part of the outcome that applies are covered; reporting counts each part for
    whoever paid it.

    Government proxy payments (代缴) carry `payer` `government`, `channel` `government`,
    `order_no` `PB-<batch_no>-<row, 6 digits>` (one per person) and `channel_txn_id`
    `<plan_year>:<budget_line>:<person_id>`; `coverage_start` is the one the payment date gives
    (null for a payment made after the plan year ended, a back payment). Why it starts then is
    recorded with the payment (`coverage_basis` on the order and the ledger entry), not carried
    in the event."""

    TOPIC = topics.PAYMENTS_PAYMENT
    KEY = "person_id"
    EXAMPLE = {
        "person_id": "0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70", "plan_year": 2025,
        "order_no": "CB2025…", "channel": "wechatpay", "channel_txn_id": "4200001234",
        "kind": "paid", "payer": "person", "amount_fen": 40000,
        "paid_at": "2024-12-01T10:00:00+00:00", "coverage_start": "2025-01-01",
        "funding_source": None, "timing": "on_time", "county_code": "370481",
        "township_code": "370481001000", "village_code": None, "revision": 3}

    person_id: uuid.UUID
    plan_year: int
    order_no: str
    channel: str
    channel_txn_id: str
    kind: Literal["paid", "refunded", "reversed"]
    payer: Literal["person", "government"]
    amount_fen: Fen
    paid_at: Timestamp
    coverage_start: dt.date | None
    funding_source: BudgetLine | None = Field(None, description="absent in older events")
    timing: Literal["on_time", "late"] | None = Field(None, description="absent in older events")
    county_code: RegionCode | None
    township_code: RegionCode | None
    village_code: RegionCode | None
    revision: int


class PaymentReceived(PaymentPayload):
    """An order is paid (or a government proxy payment is booked)."""

    TYPE = "payments.payment_received.v1"


class PaymentRefunded(PaymentPayload):
    """The refunds of the payment reached what was paid; the order no longer counts as paid.
    `amount_fen` and `channel_txn_id` are those of the refund that completed it (a partial
    refund from a channel goes to suspense as `partial_refund`; a partial refund of an
    adjustment, where the person stays paid, is no event). Alipay refunds: each notification
    books the difference from what is already booked for the trade (`refund_fee` is the
    trade's cumulative total); its `channel_txn_id` is `<trade_no>:<out_biz_no>`."""

    TYPE = "payments.payment_refunded.v1"


class PaymentReversed(PaymentPayload):
    """A payment already booked was undone (冲正): the channel reversed it, the channel's
    statement shows it as failed or closed, or staff reversed a match-to-person that gave the
    money to the wrong person. `channel_txn_id` is the reversed payment's, `amount_fen` the
    amount reversed, `paid_at` when it was reversed, `coverage_start` the coverage the payment
    had given and no longer gives. The person owes again (a new order is issued for the same
    year). A payment is reversed at most once."""

    TYPE = "payments.payment_reversed.v1"


class SuspensePayload(EventModel):
    """Money payments could not book as it came (payments.suspense.v1, key: person_id, or the
    order number when no person is known; no key when the money names neither).

    `reason`: underpaid, overpaid, unknown_order, no_open_order, paid_twice,
    refund_without_payment, refund_of_other_payment, partial_refund, refund_exceeds_payment,
    reversal_of_unknown_payment, partial_reversal, reversal_without_payment,
    reversal_of_returned_payment, reversed_payment, plan_year_closed... `resolution`: null, or
    `{"action": "match-to-person"|"refund"|"offset"|"settled", "note", "person_id",
    "plan_year", "order_no", "coverage_start", "ledger_id"}` (the keys the action has).
    `revision` grows with every change of the item: 1 when opened, 2 when resolved, 3 when
    opened again (staff reversed the match it was resolved with), 4 when resolved again. A
    suspense resolved by matching it to a person is followed by a payment_received for that
    person. `offset` and `settled` are resolutions payments makes itself: `offset`, a payment
    and its reversal cancelled each other out (`ledger_id` the other entry); `settled`, a
    partial refund became part of a refund in full."""

    TOPIC = topics.PAYMENTS_SUSPENSE
    KEY_DOC = "person_id, else order_no; none when the money names neither"
    EXAMPLE = {
        "suspense_id": 12, "channel": "bank_ccb", "channel_txn_id": "CCB0001",
        "kind": "payment", "order_no": "CB2025…",
        "person_id": "0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70", "plan_year": 2025,
        "amount_fen": 40000, "reason": "paid_twice", "status": "resolved",
        "resolution": {"action": "refund", "note": "returned by POS operator"},
        "opened_at": "2024-12-01T10:00:00+00:00", "resolved_at": "2024-12-02T09:00:00+00:00",
        "revision": 2}

    suspense_id: int
    channel: str
    channel_txn_id: str
    kind: Literal["payment", "refund", "reversal"]
    order_no: str | None
    person_id: uuid.UUID | None
    plan_year: int | None
    amount_fen: Fen
    reason: str
    status: Literal["open", "resolved"]
    resolution: dict[str, Any] | None
    opened_at: Timestamp
    resolved_at: Timestamp | None
    revision: int = Field(ge=1)

    def key(self) -> str | None:
        return str(self.person_id) if self.person_id is not None else self.order_no


class SuspenseOpened(SuspensePayload):
    """Money went to suspense (or came back to it: a match reversed by staff)."""

    TYPE = "payments.suspense_opened.v1"


class SuspenseResolved(SuspensePayload):
    """Staff (or payments itself) resolved a suspense item."""

    TYPE = "payments.suspense_resolved.v1"


class ReconciliationCounts(Part):
    """`channel_only`: the webhook was missed; the line was posted through the webhook path
    (origin `statement`). `carried`: in the ledger, not yet on the statement; still missing
    from the next day's statement it is reported there as `ledger_only`. `reversed`: a payment
    line the channel marks failed or closed for a payment the ledger holds; its reversal was
    posted through the webhook path unless already booked."""

    matched: int
    channel_only: int
    ledger_only: int
    amount_mismatch: int
    status_mismatch: int
    carried: int
    ignored: int
    reversed: int


class DeclaredTotals(Part):
    """What the statement's summary lines declare."""

    count: int
    payment_fen: Fen
    refund_fen: Fen


class Totals(Part):
    payment_fen: Fen
    refund_fen: Fen
    count: int


class ReconciliationCompleted(EventModel):
    """A channel's statement of one day reconciled against the ledger
    (payments.reconciliation.v1, key: channel). A payment reversed by the end of the day
    counts in neither `ledger_totals` nor `carried`."""

    TOPIC = topics.PAYMENTS_RECONCILIATION
    TYPE = "payments.reconciliation_completed.v1"
    KEY = "channel"
    EXAMPLE = {
        "reconciliation_id": 7, "channel": "wechatpay", "statement_date": "2024-12-01",
        "counts": {"matched": 950, "channel_only": 2, "ledger_only": 1, "amount_mismatch": 0,
                   "status_mismatch": 0, "carried": 3, "ignored": 4, "reversed": 0},
        "declared": {"count": 959, "payment_fen": 38000000, "refund_fen": 40000},
        "declared_totals_match": True,
        "statement_totals": {"payment_fen": 38000000, "refund_fen": 40000, "count": 955},
        "ledger_totals": {"payment_fen": 37960000, "refund_fen": 40000, "count": 954},
        "totals_match": False, "posted_from_statement": 2, "clean": False,
        "completed_at": "2024-12-02T02:00:00+00:00"}

    reconciliation_id: int
    channel: str
    statement_date: dt.date
    counts: ReconciliationCounts
    declared: DeclaredTotals
    declared_totals_match: bool
    statement_totals: Totals
    ledger_totals: Totals
    totals_match: bool
    posted_from_statement: int
    clean: bool
    completed_at: Timestamp


class TaxDifferences(Part):
    open: int
    resolved: int


class TaxReconciliationCompleted(EventModel):
    """A period of the tax bureau's collection details (征收明细) reconciled against the ledger
    (payments.reconciliation.v1, key: channel `tax_bureau`), published when the period is
    compared and again after each difference is resolved (`revision` grows). `counts` per kind
    of difference (`tax_only`, `ledger_only`, `amount_differs`, `dates_differ`, and
    `matched`); `tax_totals` and `ledger_totals` in fen (`net_fen` and the figures they add up
    from); see docs/EXCHANGE.md."""

    TOPIC = topics.PAYMENTS_RECONCILIATION
    TYPE = "payments.tax_reconciliation_completed.v1"
    KEY = "channel"
    EXAMPLE = {
        "reconciliation_id": "tax:3", "channel": "tax_bureau", "statement_date": "2025-01-15",
        "period_start": "2025-01-01", "period_end": "2025-01-15", "region_code": "140600",
        "counts": {"matched": 120, "tax_only": 1, "ledger_only": 1, "amount_differs": 1,
                   "dates_differ": 1},
        "tax_totals": {"count": 123, "net_fen": 4920000},
        "ledger_totals": {"count": 123, "net_fen": 4900000},
        "differences": {"open": 4, "resolved": 0}, "totals_match": False, "clean": False,
        "revision": 1, "completed_at": "2025-01-16T02:00:00+00:00"}

    reconciliation_id: str
    channel: str
    statement_date: dt.date
    period_start: dt.date
    period_end: dt.date
    region_code: str
    counts: dict[str, int]
    tax_totals: dict[str, int]
    ledger_totals: dict[str, int]
    differences: TaxDifferences
    totals_match: bool
    clean: bool
    revision: int
    completed_at: Timestamp


EVENTS: tuple[type[EventModel], ...] = (
    NotificationReceived, PaymentReceived, PaymentRefunded, PaymentReversed, SuspenseOpened,
    SuspenseResolved, ReconciliationCompleted, TaxReconciliationCompleted,
)
