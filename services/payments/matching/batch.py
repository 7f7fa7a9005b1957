"""Matching a consumer batch: the rules of `Matcher`, with the batch's plain payments booked,
read and applied together, one statement per step instead of one per payment.

A batch (one partition's poll of payments.notification.v1) is walked in its order. Before the
walk, the payments that can go together (kind payment, succeeded, and no other notification of
the batch names their order or their transaction) are locked, booked and read with their orders
and dues: three statements for all of them. In the walk each is judged by `Matcher._payment`,
exactly as one at a time; an open order it pays is set aside, and the set-aside orders are paid
together (`Posting.apply_payments`). Anything else (a refund, a reversal, a close, money going to
suspense) first applies what was set aside and then runs one at a time, and a late payment whose
waiting period reads the person's earlier payments reads them only after what was set aside is
applied: every read sees the batch's earlier effects and the events leave in the batch's order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from services.payments.channels import STATUS_SUCCEEDED, refund_terms
from services.payments.dues.repository import DueRow
from services.payments.ledger.posting import Posting, Priced, Settlement
from services.payments.matching.service import Matcher
from services.payments.orders.repository import OrderRow
from shared.observability import correlation_id

Key = tuple[str, str]  # (channel, channel_txn_id)


class BatchMatcher(Matcher):
    """Applies a batch of normalized notifications (see the module's docstring)."""

    def __init__(self, posting: Posting) -> None:
        super().__init__(posting)
        self.waiting: list[Settlement] = []
        self.booked: dict[Key, tuple[int, bool]] = {}
        self.found: dict[str, tuple[OrderRow, DueRow | None]] = {}

    async def process_all(self, batch: Sequence[tuple[dict[str, Any], str | None]]) -> list[str]:
        """Apply (notification, correlation id) pairs in order; what happened to each, also
        stored on each notification."""
        together = _together([n for n, _ in batch])
        await self._book([batch[i][0] for i in sorted(together)])
        outcomes = []
        for i, (n, correlation) in enumerate(batch):
            token = correlation_id.set(correlation)
            try:
                if i in together:
                    outcomes.append(await self._take(n))
                else:
                    await self._pay_waiting()
                    outcomes.append(await self._apply(n))
            finally:
                correlation_id.reset(token)
        await self._pay_waiting()
        await self.notifications.set_statuses([
            (uuid.UUID(n["notification_id"]), outcome)
            for (n, _), outcome in zip(batch, outcomes, strict=True) if n.get("notification_id")])
        return outcomes

    async def _book(self, payments: list[dict[str, Any]]) -> None:
        """Lock, book and read (order and due, the order locked) the payments that go
        together; what was booked before is left out (a duplicate)."""
        if not payments:
            return
        await self.ledger.lock_payments([(n["channel"], n["channel_txn_id"]) for n in payments])
        self.booked = await self.ledger.record_payments([{
            "channel": n["channel"], "channel_txn_id": n["channel_txn_id"],
            "order_no": n["order_no"], "amount_fen": int(n["amount_fen"]),
            "occurred_at": dt.datetime.fromisoformat(n["paid_at"]),
            "origin": n.get("origin", "webhook"),
            "notification_id": uuid.UUID(n["notification_id"]) if n.get("notification_id")
            else None} for n in payments])
        self.found = await self.orders.get_many_with_dues(
            [n["order_no"] for n in payments if (n["channel"], n["channel_txn_id"])
             in self.booked])

    async def _take(self, n: dict[str, Any]) -> str:
        """One payment booked by `_book`, judged as `Matcher` judges it."""
        booked = self.booked.get((n["channel"], n["channel_txn_id"]))
        if booked is None:
            return "duplicate"
        entry_id, reversed_before = booked
        order, due = self.found.get(n["order_no"], (None, None))
        paid_at = dt.datetime.fromisoformat(n["paid_at"])
        if reversed_before or order is None or order.status != "open":
            await self._pay_waiting()  # what follows reads or writes beyond this order
        return await self._payment(n, entry_id, order, due, paid_at, reversed_before)

    async def _price(self, due: DueRow | None, paid_at: dt.datetime) -> Priced:
        # a late payment whose waiting period reads the person's earlier payments reads them
        # after what was set aside is applied
        return await self.posting.priced(due, paid_at, before_history=self._pay_waiting)

    async def _settle(self, paid: Settlement) -> None:
        self.waiting.append(paid)

    async def _to_suspense(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                           reason: str, detail: str) -> str:
        await self._pay_waiting()
        return await super()._to_suspense(n, entry_id, order, reason, detail)

    async def _pay_waiting(self) -> None:
        waiting, self.waiting = self.waiting, []
        await self.posting.apply_payments(waiting)


def _together(batch: Sequence[dict[str, Any]]) -> set[int]:
    """The positions of the batch's succeeded payments whose order and transaction no other
    notification of the batch names (a refund names its payment's transaction too)."""
    orders = Counter(n["order_no"] for n in batch)
    txns: Counter[Key] = Counter()
    for n in batch:
        txns[(n["channel"], n["channel_txn_id"])] += 1
        if n["kind"] == "refund":
            named = refund_terms(n).refunded_txn_id
            if named:
                txns[(n["channel"], named)] += 1
    return {i for i, n in enumerate(batch)
            if n["kind"] == "payment" and n["status"] == STATUS_SUCCEEDED
            and orders[n["order_no"]] == 1 and txns[(n["channel"], n["channel_txn_id"])] == 1}
