"""Staff resolve suspense: match the money to a person's order, or send it back (refund); and
reverse a match that was wrong (the payment goes back to suspense, the person owes again).

Every write goes through `_locked`, which also checks the caller may act on the item: the
persons it names (the one the money came with, the one it was matched to, the one the request
names) must lie in the caller's region; money that names no person payments knows of belongs
to the region of the channel account it arrived on (services/payments/settings.py), and money
of an account without a region only to nationwide callers and administrators."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from services.payments import events
from services.payments.ledger.posting import LedgerEntry, Posting
from services.payments.scope import person_regions, require_persons_in_region
from services.payments.suspense.repository import SuspenseRow
from shared.access import ADMIN
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.money import fen_to_yuan


class SuspenseService:
    def __init__(self, posting: Posting, *, actor: Principal | None = None,
                 channel_regions: Mapping[str, str] | None = None) -> None:
        """`actor`: who writes (None: a trusted internal caller, not checked);
        `channel_regions`: channel -> the region of its account."""
        self.posting = posting
        self.uow = posting.uow
        self.session = posting.uow.session
        self.actor = actor
        self.channel_regions = dict(channel_regions or {})
        self.repo = posting.uow.suspense

    async def list(self, status: str | None, limit: int, after: int | None = None, *,
                   region_prefix: str | None = None) -> list[SuspenseRow]:
        return await self.repo.list(status, limit, after, region_prefix=region_prefix)

    async def _locked(self, suspense_id: int, person_id: uuid.UUID | None = None) -> SuspenseRow:
        """The item, locked, once the caller may act on it (`person_id`: the person the
        request names). The money's own lock comes first, in the order the processor takes
        them (a reversal of this money may be processed at the same time)."""
        peek = await self.repo.get(suspense_id)
        if peek is None:
            raise NotFound("no such suspense item", code="suspense_not_found")
        await self.posting.lock_payment(peek.channel, peek.channel_txn_id)
        item = await self.repo.get(suspense_id, for_update=True)
        assert item is not None
        await self._require_may_act(item, person_id)
        return item

    def region_of_account(self, item: SuspenseRow) -> str | None:
        """The region of the channel account the money arrived on (None: no region)."""
        return self.channel_regions.get(item.channel)

    async def _require_may_act(self, item: SuspenseRow, person_id: uuid.UUID | None) -> None:
        actor = self.actor
        if actor is None or actor.sees_all_regions:
            return
        matched = (item.resolution or {}).get("person_id")
        own = (item.person_id, uuid.UUID(matched) if matched else None)
        await require_persons_in_region(self.session, actor, (person_id, *own))
        if any(region is not None for region in (await person_regions(self.session, own)).values()):
            return  # the money's person lies in the caller's region (checked just above)
        region = self.region_of_account(item)
        if region is None:
            if actor.role == ADMIN:
                return
            raise Forbidden(
                f"此款项未关联任何人员，且渠道 {item.channel} 的账户未指定地区：仅全国范围的用户和"
                f"管理员可以处理 (money naming no person, on a channel account without a "
                f"region: only nationwide callers and administrators may act on it)",
                code="forbidden_region", key="suspense_account_without_region",
                params={"channel": item.channel})
        if not actor.can_see_region(region):
            raise Forbidden(
                f"此款项未关联任何人员，属于渠道 {item.channel} 账户所在地区 {region}，"
                f"不在您的地区 {actor.region} 内 (money naming no person belongs to the region "
                f"of the channel account it arrived on, outside your region)",
                code="forbidden_region", key="suspense_account_outside_region",
                params={"channel": item.channel, "account_region": region,
                        "region": actor.region})

    async def resolve(self, suspense_id: int, action: str, person_id: uuid.UUID | None,
                      plan_year: int | None, note: str | None) -> SuspenseRow:
        item = await self._locked(suspense_id, person_id)
        if item.status != "open":
            raise Conflict("this suspense item is already resolved", code="already_resolved")
        resolution: dict[str, Any] = {"action": action, "note": note}
        if action == "match-to-person":
            resolution.update(await self._match(item, person_id, plan_year))
        return await self.posting.resolve_suspense(item, resolution)

    async def reverse(self, suspense_id: int, note: str | None) -> SuspenseRow:
        """Undo a match-to-person that gave the money to the wrong person: that order is
        reversed (payments.payment_reversed.v1), the payment is in suspense again, to be
        matched to the right person or sent back."""
        item = await self._locked(suspense_id)
        resolution = item.resolution or {}
        if (item.status != "resolved" or resolution.get("action") != "match-to-person"
                or item.ledger_id is None):
            raise Conflict("only a payment matched to a person can be reversed",
                           code="not_matched")
        order_no = str(resolution.get("order_no"))
        orders, ledger = self.uow.orders, self.uow.ledger
        order = await orders.get(order_no, for_update=True)
        if (order is None or order.status != "paid" or order.channel != item.channel
                or order.channel_txn_id != item.channel_txn_id):
            raise Conflict(f"order {order_no} is no longer paid by this money",
                           code="not_paid", params={"order_no": order_no})
        now = dt.datetime.now(dt.UTC)
        # Keyed by the money and the order it was applied to: each wrong match is reversed
        # once, and the channel's own reversal of the money (keyed by the money) stays apart.
        entry_id = await self.posting.post(LedgerEntry(
            channel=item.channel, channel_txn_id=f"{item.channel_txn_id}@{order_no}",
            kind="reversal", order_no=order_no, amount_fen=order.amount_fen, occurred_at=now,
            origin="staff", person_id=order.person_id, plan_year=order.plan_year,
            coverage_start=order.coverage_start, refers_to=item.channel_txn_id))
        if entry_id is None:
            raise Conflict("this match was already reversed", code="already_reversed")
        await orders.mark_reversed(order_no)
        await ledger.unapply(item.ledger_id, order_no=item.order_no, person_id=item.person_id,
                             plan_year=item.plan_year)
        due = await self.uow.dues.get(order.person_id, order.plan_year)
        await self.posting.emit_payment(
            events.PaymentReversed, due=due, person_id=order.person_id,
            plan_year=order.plan_year, order_no=order_no, channel=item.channel,
            channel_txn_id=item.channel_txn_id, payer="person", amount_fen=order.amount_fen,
            paid_at=now, coverage_start=order.coverage_start, revision=entry_id)
        why = f"：{note}" if note else ""
        return await self.posting.reopen_suspense(suspense_id, (
            f"重新挂账：与订单 {order_no}（人员 {order.person_id}，{order.plan_year} 年度）"
            f"的匹配已撤销{why}。原说明：{item.detail or item.reason}"))

    async def _match(self, item: SuspenseRow, person_id: uuid.UUID | None,
                     plan_year: int | None) -> dict[str, Any]:
        if item.kind != "payment" or item.ledger_id is None:
            raise Invalid("only payments can be matched to a person", field="action",
                          key="not_payment")
        person_id = person_id or item.person_id
        plan_year = plan_year or item.plan_year
        if person_id is None or plan_year is None:
            raise Invalid("person_id and plan_year are required", field="person_id",
                          key="person_and_year_required")
        due = await self.uow.dues.get(person_id, plan_year)
        if due is None or not due.enrolled:
            raise Conflict("the person is not enrolled for this plan year", code="not_enrolled")
        orders = self.uow.orders
        live = await orders.live(person_id, plan_year)
        if live is None and due.personal_fen > 0:
            await orders.issue(person_id, plan_year, due.personal_fen, due.revision)
            live = await orders.live(person_id, plan_year)
        if live is None or live.status != "open":
            raise Conflict("the person has nothing open to pay for this year",
                           code="nothing_open")
        if live.amount_fen != item.amount_fen:
            raise Conflict(f"the open order is {live.amount_fen} fen, the money "
                           f"{item.amount_fen} fen: refund it instead", code="amount_mismatch",
                           params={"order_yuan": fen_to_yuan(live.amount_fen),
                                   "money_yuan": fen_to_yuan(item.amount_fen)})
        # The ledger entry keeps its channel key; the order now points to that money.
        paid_at = await self.uow.ledger.occurred_at(item.ledger_id)
        start = await self.posting.apply_payment(live, item.ledger_id, item.channel,
                                                 item.channel_txn_id, paid_at)
        return {"person_id": str(person_id), "plan_year": plan_year,
                "order_no": live.order_no,
                "coverage_start": start.isoformat() if start else None}

