"""The one place where the tax bureau's and the village collectors' money is booked.

Every payment and reversal of these two paths goes through `post`, which hands a normalized
notification to matching's entry point (`services.payments.matching.service.match`), the code
the channels' webhooks go through: the same ledger, the same idempotent ledger key (channel,
transaction id, kind), the same order lookup, suspense (paid twice, amounts that do not match,
reversals) and the same payment events reporting consumes, over the posting core
(services/payments/ledger/posting.py) and the caller's unit of work.
"""

from __future__ import annotations

import datetime as dt
import uuid

from services.payments.channels import STATUS_SUCCEEDED
from services.payments.ledger.posting import Posting, UnitOfWork
from services.payments.matching.service import match

TAX_CHANNEL = "tax_bureau"
COLLECTOR_CHANNEL = "village_collector"


async def post(posting: Posting, *, channel: str, txn: str, kind: str, order_no: str,
               amount_fen: int, paid_at: dt.datetime, origin: str) -> str:
    """Book one payment or reversal (kind 'payment' | 'reversal'; a reversal names the
    reversed payment's transaction id as `txn`). Returns the matching outcome: paid, duplicate,
    suspense, reversed, offset."""
    return await match(posting, {
        "channel": channel, "channel_txn_id": txn, "kind": kind, "status": STATUS_SUCCEEDED,
        "order_no": order_no, "amount_fen": amount_fen, "paid_at": paid_at.isoformat(),
        "origin": origin})


async def order_to_pay(uow: UnitOfWork, person_id: uuid.UUID, plan_year: int) -> str | None:
    """The person's live order for the year (open or already paid, so that a second payment
    meets the paid order and goes to suspense as paid_twice), issuing one at the determined
    personal part when none is live. None when payments holds no enrolled determination."""
    live = await uow.orders.live(person_id, plan_year)
    if live is not None:
        return live.order_no
    due = await uow.dues.get(person_id, plan_year)
    if due is None or not due.enrolled or due.personal_fen <= 0:
        return None
    await uow.orders.issue(person_id, plan_year, due.personal_fen, due.revision)
    live = await uow.orders.live(person_id, plan_year)
    return live.order_no if live is not None else None


async def order_of_payment(uow: UnitOfWork, channel: str, txn: str) -> str:
    """The order a booked payment was made against ('' when it is not booked)."""
    entry = await uow.ledger.get(channel, txn, "payment")
    return (entry.order_no or "") if entry is not None else ""
