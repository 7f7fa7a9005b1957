"""Matching: apply one verified notification to the ledger and the order's state machine.

Runs inside the inbox transaction of the `payments-processor` consumer. Idempotent on
(channel, channel_txn_id, kind): a second notification for the same money changes nothing.
The order only moves forward (open -> paid -> refunded, paid -> reversed, open -> closed), so
late or reordered notifications are no-ops; money that cannot be applied goes to suspense with a
reason.

Refunds: the refunds of one payment are summed (ledger `refers_to`); the order is refunded when
they reach what it was paid, a smaller total goes to suspense as a partial refund. What a
channel's refund means (the payment it gives back; an amount that is the payment's running
refunded total, as Alipay's refund_fee is) is the channel's to say
(services.payments.channels.refund_terms): a running total books the difference from what is
already booked for the payment, and one whose total was already reached books nothing
('superseded').

Matching only decides; the booking, the order's state, suspense and the events are the posting
core's (services/payments/ledger/posting.py), over the consumer's unit of work.

Reversals (冲正): the channel undoes a payment; the ledger key is the payment's own transaction
id with kind 'reversal', so a payment is reversed once. A reversal of a payment we never booked
goes to suspense; when that payment arrives afterwards the two cancel out ('offset'). A
reversal of a payment still in suspense cancels that suspense item the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from services.payments import events
from services.payments.channels import STATUS_CLOSED, STATUS_SUCCEEDED, refund_terms
from services.payments.coverage import CLOSED
from services.payments.dues.repository import DueRow
from services.payments.ledger.posting import LedgerEntry, Money, Posting, Priced, Settlement
from services.payments.ledger.repository import LedgerRow
from services.payments.orders.repository import OrderRow
from services.payments.suspense.repository import SuspenseRow
from shared.money import fen_to_yuan

log = logging.getLogger(__name__)


class Matcher:
    """Applies one normalized notification through the posting core."""

    def __init__(self, posting: Posting) -> None:
        self.posting = posting
        uow = posting.uow
        self.orders = uow.orders
        self.ledger = uow.ledger
        self.dues = uow.dues
        self.suspense = uow.suspense
        self.notifications = uow.notifications

    async def process(self, n: dict[str, Any]) -> str:
        """Apply a normalized notification; returns what happened (stored on the notification)."""
        outcome = await self._apply(n)
        if n.get("notification_id"):
            await self.notifications.set_status(uuid.UUID(n["notification_id"]), outcome)
        return outcome

    async def _apply(self, n: dict[str, Any]) -> str:
        kind, status = n["kind"], n["status"]
        if kind == "close" and status == STATUS_CLOSED:
            closed = await self.orders.close(n["order_no"])
            return "closed" if closed else "no_op"
        if status != STATUS_SUCCEEDED or kind not in ("payment", "refund", "reversal"):
            return "ignored"  # pending, failed, closed refunds: no money moved
        paid_at = dt.datetime.fromisoformat(n["paid_at"])
        if kind == "refund":
            return await self._refund(n, paid_at)
        if kind == "reversal":
            return await self._reversal(n, paid_at)
        await self.posting.lock_payment(n["channel"], n["channel_txn_id"])
        booked = await self.posting.post_payment(_entry(n, kind, paid_at))
        if booked is None:
            return "duplicate"
        entry_id, reversed_before = booked
        order, due = await self.orders.get_with_due(n["order_no"])
        return await self._payment(n, entry_id, order, due, paid_at, reversed_before)

    async def _payment(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                       due: DueRow | None, paid_at: dt.datetime, reversed_before: bool) -> str:
        amount = int(n["amount_fen"])
        reversal = await self.ledger.get(n["channel"], n["channel_txn_id"], "reversal") \
            if reversed_before else None
        if reversal is not None:
            return await self._reversed_before(n, entry_id, order, reversal)
        if order is None:
            return await self._to_suspense(n, entry_id, None, "unknown_order",
                                           f"没有订单 {n['order_no']}")
        if order.status == "open":
            # what is owed at the payment's date (on time, late, or the year closed), not what
            # the order was issued for: a late payment of the on-time amount is underpaid
            priced = await self._price(due, paid_at)
            refused = _refusal(order, priced, amount)
            if refused is not None:
                return await self._to_suspense(n, entry_id, order, *refused)
            await self._settle(Settlement(order, entry_id, n["channel"], n["channel_txn_id"],
                                          paid_at, priced, amount))
            return "paid"
        if order.status == "paid":
            return await self._to_suspense(
                n, entry_id, order, "paid_twice",
                f"订单已通过 {order.channel} 缴费（交易号 {order.channel_txn_id}）")
        other = await self.orders.paid_for(order.person_id, order.plan_year)
        if other is not None:
            return await self._to_suspense(
                n, entry_id, order, "paid_twice",
                f"订单 {order.order_no} {_status(order.status)}；此人该年度已通过 "
                f"{other.channel} 缴费（订单 {other.order_no}）")
        return await self._to_suspense(n, entry_id, order, "no_open_order",
                                       f"订单 {order.order_no} {_status(order.status)}")

    async def _price(self, due: DueRow | None, paid_at: dt.datetime) -> Priced:
        """What the payment owes and buys at its date (`BatchMatcher` applies what it set aside
        before the person's earlier payments are read)."""
        return await self.posting.priced(due, paid_at)

    async def _settle(self, paid: Settlement) -> None:
        """The open order is paid (`BatchMatcher` gathers these and applies them together)."""
        await self.posting.apply_payments([paid])

    async def _reversed_before(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                               reversal: LedgerRow) -> str:
        """The payment arrives after the channel reversed it: both cancel out, the order stays
        as it was (the person still owes)."""
        item = await self.suspense.of_ledger(reversal.id, for_update=True)
        if (reversal.outcome == "suspense" and item is not None and item.status == "open"
                and reversal.amount_fen == int(n["amount_fen"])):
            person_id = order.person_id if order else None
            plan_year = order.plan_year if order else None
            await self.ledger.update(entry_id, outcome="offset", person_id=person_id,
                                     plan_year=plan_year)
            await self.ledger.update(reversal.id, outcome="offset", person_id=person_id,
                                     plan_year=plan_year)
            await self.posting.resolve_suspense(item, {
                "action": "offset", "ledger_id": entry_id,
                "note": f"被冲正的缴费晚于冲正到达（流水 {entry_id}）：两笔相互抵销"})
            return "offset"
        return await self._to_suspense(
            n, entry_id, order, "reversed_payment",
            f"渠道在这笔缴费到达前已将其冲正（流水 {reversal.id}）")

    async def _refund(self, n: dict[str, Any], paid_at: dt.datetime) -> str:
        channel, key = n["channel"], n["channel_txn_id"]
        terms = refund_terms(n)
        order = await self.orders.get(n["order_no"], for_update=True)
        named = terms.refunded_txn_id
        payment_txn = named or (order.channel_txn_id if order is not None
                                and order.status == "paid" and order.channel == channel
                                else None)
        booked: list[LedgerRow] = []
        if payment_txn:
            if order is None:
                # Otherwise the order's row lock already serializes the refunds of its trade.
                await self.posting.lock_payment(channel, payment_txn)
            booked = await self.ledger.refunds_of(channel, payment_txn)
        before = sum(e.amount_fen for e in booked)
        amount = int(n["amount_fen"])
        if terms.amount_is_running_total:
            amount = max(0, amount - before)  # the payment's refunded total so far
        elif terms.totals_cover_earlier_lines and booked:
            # A refund of its own amount (a statement line) that a running total reported
            # after it already counted.
            snapshot = max((e.occurred_at for e in booked if e.origin == "webhook"),
                           default=None)
            if snapshot is not None and paid_at <= snapshot:
                amount = 0
        entry_id = await self.posting.post(LedgerEntry(
            channel=channel, channel_txn_id=key, kind="refund", order_no=n["order_no"],
            amount_fen=amount, occurred_at=paid_at, origin=n.get("origin", "webhook"),
            notification_id=_notification_id(n), refers_to=payment_txn,
            outcome="applied" if amount else "superseded"))
        if entry_id is None:
            return "duplicate"
        if amount == 0:
            log.info("refund %s %s: the payment's refunded total was already booked", channel,
                     key)
            return "superseded"
        n = {**n, "amount_fen": amount}
        if order is None:
            return await self._to_suspense(n, entry_id, None, "unknown_order",
                                           f"退款所指订单 {n['order_no']} 不存在")
        if order.status == "paid" and named and named != order.channel_txn_id:
            return await self._to_suspense(
                n, entry_id, order, "refund_of_other_payment",
                f"退款针对交易 {named}，而订单由交易 {order.channel_txn_id} 缴费")
        if order.status != "paid":
            return await self._to_suspense(n, entry_id, order, "refund_without_payment",
                                           f"订单 {order.order_no} {_status(order.status)}")
        total = before + amount
        if total < order.amount_fen:
            return await self._to_suspense(
                n, entry_id, order, "partial_refund",
                f"退款 {fen_to_yuan(amount)} 元；已缴 {fen_to_yuan(order.amount_fen)} 元中累计"
                f"退款 {fen_to_yuan(total)} 元")
        if total > order.amount_fen:
            return await self._to_suspense(
                n, entry_id, order, "refund_exceeds_payment",
                f"退款 {fen_to_yuan(amount)} 元后累计退款 {fen_to_yuan(total)} 元，"
                f"超过订单已缴的 {fen_to_yuan(order.amount_fen)} 元")
        await self.orders.mark_refunded(order.order_no)
        await self.ledger.update(entry_id, outcome="applied", person_id=order.person_id,
                                 plan_year=order.plan_year, coverage_start=order.coverage_start)
        await self.posting.settle_partial_refunds(booked, order, entry_id)
        due = await self.dues.get(order.person_id, order.plan_year)
        await self.posting.emit_payment(
            events.PaymentRefunded, due=due, person_id=order.person_id,
            plan_year=order.plan_year, order_no=order.order_no, channel=channel,
            channel_txn_id=key, payer="person", amount_fen=amount, paid_at=paid_at,
            coverage_start=order.coverage_start, revision=entry_id, timing=order.timing)
        return "refunded"

    async def _reversal(self, n: dict[str, Any], paid_at: dt.datetime) -> str:
        channel, txn = n["channel"], n["channel_txn_id"]
        amount = int(n["amount_fen"])
        await self.posting.lock_payment(channel, txn)
        entry_id = await self.posting.post(LedgerEntry(
            channel=channel, channel_txn_id=txn, kind="reversal", order_no=n["order_no"],
            amount_fen=amount, occurred_at=paid_at, origin=n.get("origin", "webhook"),
            notification_id=_notification_id(n), refers_to=txn))
        if entry_id is None:
            return "duplicate"
        payment = await self.ledger.get(channel, txn, "payment", for_update=True)
        if payment is None:
            hint = await self.orders.get(n["order_no"])
            return await self._to_suspense(
                n, entry_id, hint, "reversal_of_unknown_payment",
                f"{channel} 上没有记账的缴费 {txn}：若其到达，两笔相互抵销")
        if amount != payment.amount_fen:
            hint = await self.orders.paid_with(channel, txn) or await self.orders.get(
                n["order_no"])
            return await self._to_suspense(
                n, entry_id, hint, "partial_reversal",
                f"冲正 {fen_to_yuan(amount)} 元，而原缴费为 {fen_to_yuan(payment.amount_fen)} 元")
        if payment.outcome == "suspense":
            item = await self.suspense.of_ledger(payment.id, for_update=True)
            if item is not None and item.status == "open":
                await self.ledger.update(entry_id, outcome="offset", person_id=item.person_id,
                                         plan_year=item.plan_year)
                await self.ledger.set_outcome(payment.id, "offset")
                await self.posting.resolve_suspense(item, {
                    "action": "offset", "ledger_id": entry_id,
                    "note": f"渠道已冲正这笔缴费（流水 {entry_id}）：两笔相互抵销"})
                return "offset"
            return await self._to_suspense(
                n, entry_id, None, "reversal_of_returned_payment",
                f"这笔缴费曾挂账，已按「{_action(item)}」处理")
        order = await self.orders.paid_with(channel, txn, for_update=True)
        if order is None or order.status != "paid":
            return await self._to_suspense(
                n, entry_id, order, "reversal_without_payment",
                f"订单 {order.order_no} {_status(order.status)}" if order
                else f"没有以交易 {txn} 缴费的订单")
        await self.orders.mark_reversed(order.order_no)
        await self.ledger.update(entry_id, outcome="applied", person_id=order.person_id,
                                 plan_year=order.plan_year, coverage_start=order.coverage_start,
                                 order_no=order.order_no)
        due = await self.dues.get(order.person_id, order.plan_year)
        await self.posting.emit_payment(
            events.PaymentReversed, due=due, person_id=order.person_id,
            plan_year=order.plan_year, order_no=order.order_no, channel=channel,
            channel_txn_id=txn, payer="person", amount_fen=amount, paid_at=paid_at,
            coverage_start=order.coverage_start, revision=entry_id, timing=order.timing)
        return "reversed"

    async def _to_suspense(self, n: dict[str, Any], entry_id: int, order: OrderRow | None,
                           reason: str, detail: str) -> str:
        money = Money(channel=n["channel"], channel_txn_id=n["channel_txn_id"], kind=n["kind"],
                      order_no=n["order_no"], amount_fen=int(n["amount_fen"]))
        await self.posting.to_suspense(money, entry_id, order, reason, detail)
        return "suspense"


def _refusal(order: OrderRow, priced: Priced, amount: int) -> tuple[str, str] | None:
    """Why a payment of `amount` cannot pay the open order (the suspense reason and detail);
    None when it pays it: the year still takes payments and the amount is what is owed at the
    payment's date (or, without a determination, what the order was issued for)."""
    owed = priced.decision.owed
    if owed is not None and owed.timing == CLOSED:
        return "plan_year_closed", owed.explanation
    expected = owed.personal_fen if owed is not None else order.amount_fen
    if amount == expected:
        return None
    reason = "underpaid" if amount < expected else "overpaid"
    when = (f"（{TIMINGS.get(owed.timing, owed.timing)}，"
            f"{owed.paid_on.isoformat()} 缴费）：{owed.explanation}" if owed is not None else "")
    return reason, f"实缴 {fen_to_yuan(amount)} 元，应缴 {fen_to_yuan(expected)} 元{when}"


def _entry(n: dict[str, Any], kind: str, paid_at: dt.datetime) -> LedgerEntry:
    return LedgerEntry(channel=n["channel"], channel_txn_id=n["channel_txn_id"], kind=kind,
                       order_no=n["order_no"], amount_fen=int(n["amount_fen"]),
                       occurred_at=paid_at, origin=n.get("origin", "webhook"),
                       notification_id=_notification_id(n))


def _notification_id(n: dict[str, Any]) -> uuid.UUID | None:
    return uuid.UUID(n["notification_id"]) if n.get("notification_id") else None


# how a suspense item was resolved and what state an order is in, as staff read them
ACTIONS = {"match-to-person": "匹配到人", "refund": "退款", "offset": "相互抵销",
           "settled": "已入账"}
STATUSES = {"open": "待缴费", "paid": "已缴费", "refunded": "已退款", "closed": "已关闭",
            "reversed": "已冲正"}
TIMINGS = {"on_time": "按时缴费", "late": "逾期缴费", "closed": "缴费期已结束"}


def _status(status: str) -> str:
    return f"状态为{STATUSES.get(status, status)}"


def _action(item: SuspenseRow | None) -> str:
    if item is None:
        return "未处理"
    action = str((item.resolution or {}).get("action"))
    return ACTIONS.get(action, action)


async def match(posting: Posting, notification: dict[str, Any]) -> str:
    """Matching's public entry point for every source of money: apply one normalized
    notification (the dict a channel adapter's `parse` gives: channel, channel_txn_id, kind,
    status, order_no, amount_fen, paid_at ISO 8601, origin) through the posting core; returns
    the outcome (paid, duplicate, suspense, reversed, offset, ...). The tax bureau's and the
    village collectors' payments come in here, to meet the same order lookup, paid-twice and
    reversal rules as a channel's."""
    return await Matcher(posting).process(notification)
