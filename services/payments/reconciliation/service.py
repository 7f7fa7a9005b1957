"""Daily statement reconciliation on (channel, channel_txn_id, kind).

Each statement line is `matched`, `amount_mismatch`, `status_mismatch` (the channel says the
money did not move, we booked it) or `channel_only` (the webhook was missed: the line is posted
through the same idempotent intake as a webhook, origin 'statement'). Ledger entries of the day
missing from the statement are `carried` for one day, since a channel may settle a payment made
just before midnight on the next day's statement; still missing from the next statement, they
become `ledger_only` there and are alerted.

A payment line the channel marks failed or closed for a payment the ledger holds is a reversal
(冲正) of that payment: one is posted through the same intake (kind 'reversal', origin
'statement'), unless the ledger already holds it, and the line is `reversed`. A payment reversed
by the end of the day counts in neither the ledger's totals nor the carried entries.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from services.payments import events
from services.payments.channels import (
    STATUS_CLOSED,
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    PaymentNotification,
)
from services.payments.channels._support import CHINA_TZ
from services.payments.ledger.posting import UnitOfWork
from services.payments.ledger.repository import LedgerRow
from services.payments.reconciliation.repository import ReconciliationRepository
from services.payments.statements import (
    Statement,
    StatementInvalid,
    StatementLine,
    parse_alipay_business_detail,
    parse_bank_statement,
    parse_wechatpay_trade_bill,
)
from services.payments.webhooks.ingest import store_in
from shared.errors import Conflict, DomainError, Invalid, NotFound
from shared.money import fen_to_yuan

log = logging.getLogger(__name__)

# a statement line's state and kind as staff read them in the differences' details
_STATUSES = {"succeeded": "成功", "pending": "处理中", "failed": "失败", "closed": "已关闭"}
_KINDS = {"payment": "缴费", "refund": "退款", "close": "关单", "reversal": "冲正"}


def _status(status: str) -> str:
    return f"「{_STATUSES.get(status, status)}」"


def day_bounds(first: dt.date, last: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, end of `last`) in Beijing time, as aware datetimes."""
    start = dt.datetime.combine(first, dt.time(), CHINA_TZ)
    end = dt.datetime.combine((last or first) + dt.timedelta(days=1), dt.time(), CHINA_TZ)
    return start, end


def parse_statement(channel: str, data: bytes) -> Statement:
    try:
        if channel == "wechatpay":
            return parse_wechatpay_trade_bill(data)
        if channel == "alipay":
            return parse_alipay_business_detail(data)
        return parse_bank_statement(data, channel)
    except StatementInvalid as exc:
        raise DomainError(f"the statement cannot be used: {exc}", code="statement_invalid",
                          status_code=422, details={"line": exc.line},
                          params={"reason": exc.text}) from None


def _totals(amounts: list[tuple[str, int]]) -> dict[str, int]:
    return {"payment_fen": sum(a for k, a in amounts if k == "payment"),
            "refund_fen": sum(a for k, a in amounts if k == "refund"),
            "count": len(amounts)}


class ReconciliationService:
    def __init__(self, uow: UnitOfWork, *, channels: Iterable[str] | None = None) -> None:
        """`channels`: the configured channels, whose statements can be reconciled (None: any
        channel, for internal callers)."""
        self.uow = uow
        self.session = uow.session
        self.channels = frozenset(channels) if channels is not None else None
        self.repo = ReconciliationRepository(uow.session)
        self.ledger = uow.ledger

    def require_channel(self, channel: str) -> None:
        if self.channels is not None and channel not in self.channels:
            raise NotFound(f"channel {channel!r} is not configured", code="unknown_channel",
                           params={"channel": channel})

    async def reconcile(self, channel: str, data: bytes,
                        statement_date: dt.date | None) -> dict[str, Any]:
        self.require_channel(channel)
        statement = parse_statement(channel, data)
        lines = list(statement.lines)
        day = statement_date or _most_common_day(lines)
        rec_id = await self.repo.create(channel, day)
        if rec_id is None:
            raise Conflict(f"the {channel} statement of {day} was already reconciled",
                           code="already_reconciled", params={"channel": channel, "day": day})
        await self.repo.add_lines(rec_id, lines)
        start, end = day_bounds(day)
        known = await self.ledger.by_keys(channel, [(x.channel_txn_id, x.kind) for x in lines])
        items: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        reversed_now: set[str] = set()
        posted = 0
        for line in lines:
            key = (line.channel_txn_id, line.kind)
            seen.add(key)
            entry = known.get(key)
            item = {"channel": channel, "channel_txn_id": line.channel_txn_id, "kind": line.kind,
                    "order_no": line.order_no, "statement_amount_fen": line.amount_fen,
                    "ledger_amount_fen": entry.amount_fen if entry else None,
                    "ledger_id": entry.id if entry else None, "detail": None}
            if (line.kind == "payment" and line.status in (STATUS_FAILED, STATUS_CLOSED)
                    and entry is not None):
                # The channel took back a payment it had reported: a reversal (冲正).
                if await self.ledger.get(channel, line.channel_txn_id, "reversal") is None:
                    if await store_in(self.session, _as_reversal(line, entry, day), {}, b"",
                                      "statement"):
                        posted += 1
                    detail = f"渠道显示{_status(line.status)}：已按对账单记入冲正"
                else:
                    detail = f"渠道显示{_status(line.status)}：账本已有其冲正"
                reversed_now.add(line.channel_txn_id)
                item.update(result="reversed", detail=detail)
            elif line.status != STATUS_SUCCEEDED or line.kind == "close":
                if entry is not None:
                    item.update(result="status_mismatch",
                                detail=f"渠道显示{_status(line.status)}，账本却已入账")
                else:
                    item.update(result="ignored",
                                detail=f"{_KINDS.get(line.kind, line.kind)}"
                                       f"{_status(line.status)}：无资金变动")
            elif entry is None:
                if await store_in(self.session, _as_notification(line, day), {},
                                  b"", "statement"):
                    posted += 1
                item.update(result="channel_only",
                            detail="漏收回调：已按对账单入账")
            elif entry.amount_fen != line.amount_fen:
                item.update(result="amount_mismatch",
                            detail=f"对账单 {fen_to_yuan(line.amount_fen)} 元，"
                                   f"账本 {fen_to_yuan(entry.amount_fen)} 元")
            else:
                item.update(result="matched")
            items.append(item)
        await self.repo.add_items(rec_id, items)

        ledger_day = [e for e in await self.ledger.for_day(channel, start, end)
                      if not (e.kind == "payment"
                              and (e.reversed or e.channel_txn_id in reversed_now))]
        carried = [{"channel": channel, "channel_txn_id": e.channel_txn_id, "kind": e.kind,
                    "order_no": e.order_no, "statement_amount_fen": None,
                    "ledger_amount_fen": e.amount_fen, "ledger_id": e.id, "result": "carried",
                    "detail": "尚未出现在对账单上：顺延一天核对",
                    "carry_status": "pending"}
                   for e in ledger_day if (e.channel_txn_id, e.kind) not in seen]
        for c in carried:
            await self.repo.add_items(rec_id, [c])
        alerts = []
        for old in await self.repo.pending_carried(channel, day):
            if (old["channel_txn_id"], old["kind"]) in seen or (
                    old["kind"] == "payment" and await self.ledger.get(
                        channel, old["channel_txn_id"], "reversal") is not None):
                await self.repo.set_carry(old["id"], "settled")  # on a statement, or reversed
                continue
            await self.repo.set_carry(old["id"], "alerted")
            alerts.append({"channel": channel, "channel_txn_id": old["channel_txn_id"],
                           "kind": old["kind"], "order_no": old["order_no"],
                           "statement_amount_fen": None,
                           "ledger_amount_fen": old["ledger_amount_fen"],
                           "ledger_id": old["ledger_id"], "result": "ledger_only",
                           "detail": f"{old['statement_date']} 入账，此后的对账单上均没有"})
        await self.repo.add_items(rec_id, alerts)
        for alert in alerts:
            log.error("reconciliation %s %s: ledger-only %s %s", channel, day,
                      alert["kind"], alert["channel_txn_id"])
        counts = Counter(i["result"] for i in items + alerts)
        counts.update(result for result in ("carried",) for _ in carried)
        statement_totals = _totals([(x.kind, x.amount_fen) for x in lines
                                    if x.status == STATUS_SUCCEEDED])
        ledger_totals = _totals([(e.kind, e.amount_fen) for e in ledger_day])
        summary = {
            "reconciliation_id": rec_id, "channel": channel, "statement_date": day.isoformat(),
            "counts": {k: counts.get(k, 0) for k in (
                "matched", "channel_only", "ledger_only", "amount_mismatch", "status_mismatch",
                "carried", "ignored", "reversed")},
            "declared": {"count": statement.summary.count,
                         "payment_fen": statement.summary.total_fen,
                         "refund_fen": statement.summary.refund_total_fen},
            "declared_totals_match": True,  # the parsers refuse a statement whose lines don't add up
            "statement_totals": statement_totals, "ledger_totals": ledger_totals,
            "totals_match": (statement_totals["payment_fen"] == ledger_totals["payment_fen"]
                             and statement_totals["refund_fen"] == ledger_totals["refund_fen"]),
            "posted_from_statement": posted,
            "completed_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        summary["clean"] = (summary["totals_match"] and not alerts and all(
            counts.get(k, 0) == 0 for k in ("channel_only", "amount_mismatch", "status_mismatch")))
        await self.repo.finish(rec_id, summary)
        await self.uow.publish(events.ReconciliationCompleted.model_validate(summary),
                               subject=str(rec_id))
        return summary

    async def get(self, reconciliation_id: int) -> dict[str, Any]:
        found = await self.repo.get(reconciliation_id)
        if found is None:
            raise NotFound("no such reconciliation", code="reconciliation_not_found")
        return found

    async def compare(self, first: dt.date, last: dt.date) -> dict[str, Any]:
        if last < first:
            raise Invalid("`date_to` is before `date_from`", field="date_to",
                          key="range_reversed")
        start, end = day_bounds(first, last)
        channels = await self.repo.compare(start, end)
        for entry in channels.values():
            diff = {}
            for kind in ("payment", "refund"):
                s = entry["statement"].get(kind, {"count": 0, "total_fen": 0})
                l = entry["ledger"].get(kind, {"count": 0, "total_fen": 0})  # noqa: E741
                diff[kind] = {"count": s["count"] - l["count"],
                              "total_fen": s["total_fen"] - l["total_fen"]}
            entry["difference"] = diff
            entry["agrees"] = all(v["total_fen"] == 0 and v["count"] == 0 for v in diff.values())
        return {"date_from": first.isoformat(), "date_to": last.isoformat(),
                "channels": channels}


def _most_common_day(lines: list[StatementLine]) -> dt.date:
    if not lines:
        raise Invalid("an empty statement needs ?date=YYYY-MM-DD", field="date",
                      key="date_required")
    days = Counter(x.occurred_at.astimezone(CHINA_TZ).date() for x in lines)
    return days.most_common(1)[0][0]


def _as_reversal(line: StatementLine, entry: LedgerRow, day: dt.date) -> PaymentNotification:
    return PaymentNotification(
        channel=line.channel, event_id=f"statement:{day}:reversal:{line.channel_txn_id}",
        kind="reversal", channel_txn_id=line.channel_txn_id, order_no=line.order_no,
        amount_fen=entry.amount_fen, paid_at=line.occurred_at.astimezone(dt.UTC),
        status=STATUS_SUCCEEDED,
        raw={"statement_date": day.isoformat(), "statement_status": line.status})


def _as_notification(line: StatementLine, day: dt.date) -> PaymentNotification:
    return PaymentNotification(
        channel=line.channel, event_id=f"statement:{day}:{line.kind}:{line.channel_txn_id}",
        kind=line.kind, channel_txn_id=line.channel_txn_id, order_no=line.order_no,
        amount_fen=line.amount_fen, paid_at=line.occurred_at.astimezone(dt.UTC),
        status=line.status, raw={"statement_date": day.isoformat()})
