"""The one place where the tax bureau's and the village collectors' money is booked.

Every payment and reversal of these two paths goes through `post`, which hands a normalized
notification to the same matching code the channels' webhooks go through: the same ledger, the
same idempotent ledger key (channel, transaction id, kind), the same suspense and the same
payment events reporting consumes. Matching runs over the posting core
(services/payments/ledger/posting.py), as for the channels.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.channels import STATUS_SUCCEEDED
from services.payments.coverage import CoverageCalculator
from services.payments.dues.repository import DueRepository
from services.payments.ledger.posting import Posting, UnitOfWork
from services.payments.ledger.repository import LedgerRepository
from services.payments.matching.service import Matcher
from services.payments.orders.repository import OrderRepository
from shared.outbox import Outbox

TAX_CHANNEL = "tax_bureau"
COLLECTOR_CHANNEL = "village_collector"


async def post(session: AsyncSession, outbox: Outbox, coverage: CoverageCalculator, *,
               channel: str, txn: str, kind: str, order_no: str, amount_fen: int,
               paid_at: dt.datetime, origin: str) -> str:
    """Book one payment or reversal (kind 'payment' | 'reversal'; a reversal names the
    reversed payment's transaction id as `txn`). Returns the matching outcome: paid, duplicate,
    suspense, reversed, offset."""
    return await Matcher(Posting(UnitOfWork(session, outbox), coverage)).process({
        "channel": channel, "channel_txn_id": txn, "kind": kind, "status": STATUS_SUCCEEDED,
        "order_no": order_no, "amount_fen": amount_fen, "paid_at": paid_at.isoformat(),
        "origin": origin})


async def order_to_pay(session: AsyncSession, person_id: uuid.UUID, plan_year: int) -> str | None:
    """The person's live order for the year (open or already paid, so that a second payment
    meets the paid order and goes to suspense as paid_twice), issuing one at the determined
    personal part when none is live. None when payments holds no enrolled determination."""
    orders = OrderRepository(session)
    live = await orders.live(person_id, plan_year)
    if live is not None:
        return live.order_no
    due = await DueRepository(session).get(person_id, plan_year)
    if due is None or not due.enrolled or due.personal_fen <= 0:
        return None
    await orders.issue(person_id, plan_year, due.personal_fen, due.revision)
    live = await orders.live(person_id, plan_year)
    return live.order_no if live is not None else None


async def order_of_payment(session: AsyncSession, channel: str, txn: str) -> str:
    """The order a booked payment was made against ('' when it is not booked)."""
    entry = await LedgerRepository(session).get(channel, txn, "payment")
    return (entry.order_no or "") if entry is not None else ""
