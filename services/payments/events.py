"""Event types and payloads payments publishes (docs/EVENTS.md, payments section)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared import topics

NOTIFICATION_RECEIVED = "payments.notification_received.v1"  # own work queue
PAYMENT_RECEIVED = "payments.payment_received.v1"
PAYMENT_REFUNDED = "payments.payment_refunded.v1"
PAYMENT_REVERSED = "payments.payment_reversed.v1"
SUSPENSE_OPENED = "payments.suspense_opened.v1"
SUSPENSE_RESOLVED = "payments.suspense_resolved.v1"
RECONCILIATION_COMPLETED = "payments.reconciliation_completed.v1"

TOPIC_OF = {
    NOTIFICATION_RECEIVED: topics.PAYMENTS_NOTIFICATION,
    PAYMENT_RECEIVED: topics.PAYMENTS_PAYMENT,
    PAYMENT_REFUNDED: topics.PAYMENTS_PAYMENT,
    PAYMENT_REVERSED: topics.PAYMENTS_PAYMENT,
    SUSPENSE_OPENED: topics.PAYMENTS_SUSPENSE,
    SUSPENSE_RESOLVED: topics.PAYMENTS_SUSPENSE,
    RECONCILIATION_COMPLETED: topics.PAYMENTS_RECONCILIATION,
}
PAYMENT_KIND = {PAYMENT_RECEIVED: "paid", PAYMENT_REFUNDED: "refunded",
                PAYMENT_REVERSED: "reversed"}


def iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def payment_payload(
    event_type: str, *, person_id: Any, plan_year: int, order_no: str, channel: str,
    channel_txn_id: str, payer: str, amount_fen: int, paid_at: dt.datetime,
    coverage_start: dt.date | None, county_code: str | None, township_code: str | None,
    village_code: str | None, revision: int, timing: str | None = None,
    funding_source: str | None = None,
) -> dict[str, Any]:
    """`timing`: on_time or late, the outcome of the determination the payment settled (None
    where it was recorded before payments knew); `funding_source`: the budget line of a
    government proxy payment, None for a person's own."""
    return {
        "person_id": str(person_id), "plan_year": plan_year, "order_no": order_no,
        "channel": channel, "channel_txn_id": channel_txn_id, "kind": PAYMENT_KIND[event_type],
        "payer": payer, "amount_fen": amount_fen, "paid_at": iso(paid_at),
        "coverage_start": iso(coverage_start), "funding_source": funding_source,
        "timing": timing, "county_code": county_code,
        "township_code": township_code, "village_code": village_code, "revision": revision,
    }
