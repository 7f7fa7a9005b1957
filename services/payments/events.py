"""The events payments publishes (contracts/payments.py), built from its rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.payments import (
    NotificationReceived,
    PaymentPayload,
    PaymentReceived,
    PaymentRefunded,
    PaymentReversed,
    ReconciliationCompleted,
    SuspenseOpened,
    SuspenseResolved,
    TaxReconciliationCompleted,
)

__all__ = [
    "NotificationReceived", "PaymentReceived", "PaymentRefunded", "PaymentReversed",
    "ReconciliationCompleted", "SuspenseOpened", "SuspenseResolved", "TaxReconciliationCompleted",
    "iso", "payment_event",
]

PAYMENT_KIND: dict[type[PaymentPayload], str] = {
    PaymentReceived: "paid", PaymentRefunded: "refunded", PaymentReversed: "reversed"}


def iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def payment_event(
    event_type: type[PaymentPayload], *, person_id: Any, plan_year: int, order_no: str,
    channel: str, channel_txn_id: str, payer: str, amount_fen: int, paid_at: dt.datetime,
    coverage_start: dt.date | None, county_code: str | None, township_code: str | None,
    village_code: str | None, revision: int, timing: str | None = None,
    funding_source: str | None = None,
) -> PaymentPayload:
    """`timing`: on_time or late, the outcome of the determination the payment settled (None
    where it was recorded before payments knew); `funding_source`: the budget line of a
    government proxy payment, None for a person's own."""
    return event_type.model_validate({
        "person_id": person_id, "plan_year": plan_year, "order_no": order_no,
        "channel": channel, "channel_txn_id": channel_txn_id,
        "kind": PAYMENT_KIND[event_type], "payer": payer, "amount_fen": amount_fen,
        "paid_at": paid_at, "coverage_start": coverage_start, "funding_source": funding_source,
        "timing": timing, "county_code": county_code, "township_code": township_code,
        "village_code": village_code, "revision": revision,
    })
