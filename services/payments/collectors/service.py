"""Village collection (村居代收; Yutai 2024 五: 委托镇街、村居、社区等集中代收; 七: 以银行二维码……
为主，现金收取兜底).

A collector (role village_collector, region: their village) records each payment taken, cash or
through the collector's QR code; the system numbers the receipt (per village, never reused) and
books it at once through `tax.posting.post` as a payment of the channel `village_collector`
(ledger key: the receipt number), so the person's order is paid and the payment event reaches
reporting's progress the moment it is recorded. A person already paid (through a channel, the
tax bureau or another receipt) is paid once: the receipt's money goes to suspense (paid_twice),
as for any channel, and the answer says so.

A receipt is voided only with a reason and only before its hand-over; the void books the
payment's reversal (the person owes again). The daily hand-over (解缴) gathers the collector's
receipts not yet handed over, with totals (count, cash, QR, voided); the collector's own count
and total are compared with them and a hand-over that does not add up is flagged, never
silently accepted. The bank's deposit record then confirms the hand-over, or marks it short or
over by the difference.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from services.payments.channels._support import CHINA_TZ
from services.payments.collectors.repository import CollectorRepository
from services.payments.collectors.schemas import (
    CollectionCreate,
    DepositCreate,
    DepositFile,
    HandoverCreate,
)
from services.payments.ledger.posting import Posting
from services.payments.scope import require_persons_in_region
from services.payments.tax.posting import (
    COLLECTOR_CHANNEL,
    order_of_payment,
    order_to_pay,
    post,
)
from shared.auth import Principal
from shared.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from shared.idnumber import InvalidIdNumber, parse_id_number
from shared.money import fen_to_yuan
from shared.pii import PiiVault

OUTCOME_ZH = {"paid": "已缴费入账",
              "suspense": "该人员本年度已缴费或金额不符：本笔转入待处理（挂账），须核实后退还",
              "duplicate": "重复提交，未重复入账", "reversed": "已冲正",
              "offset": "已与原收款相互抵消"}
STATUS_ZH = {"handed_over": "已解缴，待银行确认", "confirmed": "银行已确认，金额相符",
             "short": "银行到账少于解缴金额", "over": "银行到账多于解缴金额"}


class CollectorService:
    """Village collection over the posting core: one unit of work, committed by its opener."""

    def __init__(self, posting: Posting, vault: PiiVault) -> None:
        self.posting = posting
        self.uow = posting.uow
        self.vault = vault
        self.repo = CollectorRepository(posting.uow.session)

    async def record(self, body: CollectionCreate, principal: Principal) -> dict[str, Any]:
        village = _village_of(principal)
        by_number = await self._person_of(body.id_number) if body.id_number else None
        await require_persons_in_region(self.uow.session, principal,
                                        [body.person_id, by_number])
        if body.person_id is not None and by_number is not None and body.person_id != by_number:
            raise Invalid("身份证号码与人员编号不是同一人", field="id_number",
                          code="person_mismatch")
        person_id = body.person_id or by_number
        assert person_id is not None
        now = dt.datetime.now(dt.UTC)
        collected_at = body.collected_at or now
        if collected_at > now + dt.timedelta(minutes=5):
            raise Invalid("收款时间不能晚于现在", field="collected_at", code="collected_in_future")
        order_no = await order_to_pay(self.uow, person_id, body.plan_year)
        if order_no is None:
            raise Conflict(f"该人员 {body.plan_year} 年度没有参保核定结果，不能收款",
                           code="no_determination")
        receipt_no = await self.repo.next_receipt_no(village)
        outcome = await post(self.posting, channel=COLLECTOR_CHANNEL, txn=receipt_no,
                             kind="payment", order_no=order_no, amount_fen=body.amount_fen,
                             paid_at=collected_at, origin="collector")
        await self.repo.add_receipt(
            receipt_no=receipt_no, village_code=village, collector=principal.subject,
            person_id=person_id, plan_year=body.plan_year, amount_fen=body.amount_fen,
            method=body.method, qr_txn_id=body.qr_txn_id, collected_at=collected_at,
            day=collected_at.astimezone(CHINA_TZ).date(), outcome=outcome)
        return self._receipt(await self.repo.receipt(receipt_no))

    async def void(self, receipt_no: str, reason: str, principal: Principal) -> dict[str, Any]:
        receipt = await self.repo.receipt(receipt_no, for_update=True)
        if receipt is None or receipt["collector"] != principal.subject:
            raise NotFound(f"没有您开具的收据 {receipt_no}", code="receipt_not_found")
        if receipt["status"] == "voided":
            raise Conflict(f"收据 {receipt_no} 已于 {receipt['voided_at'].isoformat()} 作废",
                           code="receipt_voided")
        if receipt["handover_id"] is not None:
            raise Conflict(f"收据 {receipt_no} 已解缴，不能作废：请按退费办理",
                           code="receipt_handed_over")
        outcome = await post(self.posting, channel=COLLECTOR_CHANNEL, txn=receipt_no,
                             kind="reversal", order_no=await self._order_of(receipt_no),
                             amount_fen=receipt["amount_fen"], paid_at=dt.datetime.now(dt.UTC),
                             origin="collector")
        await self.repo.void(receipt_no, reason, principal.subject, outcome)
        return self._receipt(await self.repo.receipt(receipt_no))

    async def hand_over(self, body: HandoverCreate, principal: Principal) -> dict[str, Any]:
        village = _village_of(principal)
        today = dt.datetime.now(CHINA_TZ).date()
        if body.day > today:
            raise Invalid("解缴日期不能晚于今天", field="day", code="handover_in_future")
        receipts = await self.repo.unhanded(principal.subject, body.day)
        kept = [r for r in receipts if r["status"] == "recorded"]
        total = sum(r["amount_fen"] for r in kept)
        problems = []
        if body.declared_count != len(kept):
            problems.append(f"申报收据 {body.declared_count} 张，系统记录有效收据 {len(kept)} 张")
        if body.declared_total_fen != total:
            problems.append(f"申报金额 {fen_to_yuan(body.declared_total_fen)} 元，系统收据合计 "
                            f"{fen_to_yuan(total)} 元，相差 "
                            f"{fen_to_yuan(body.declared_total_fen - total)} 元")
        hid = await self.repo.add_handover({
            "handover_no": f"JJ{village}{body.day:%Y%m%d}"
                           f"{hashlib.sha256(principal.subject.encode()).hexdigest()[:8]}",
            "collector": principal.subject, "village_code": village, "day": body.day,
            "receipt_count": len(kept), "total_fen": total,
            "cash_fen": sum(r["amount_fen"] for r in kept if r["method"] == "cash"),
            "qr_fen": sum(r["amount_fen"] for r in kept if r["method"] == "qr"),
            "voided_count": len(receipts) - len(kept), "declared_count": body.declared_count,
            "declared_total_fen": body.declared_total_fen, "flagged": bool(problems),
            "problems": problems}, [r["receipt_no"] for r in receipts])
        if not hid:
            raise Conflict(f"{body.day.isoformat()} 已解缴过：每人每天一次", code="handover_exists")
        return _handover(await self.repo.handover_by_id(hid))

    async def deposit(self, handover_no: str, body: DepositCreate, principal: Principal
                      ) -> dict[str, Any]:
        found = await self.repo.handover(handover_no, for_update=True)
        if found is None or not principal.can_see_region(found["village_code"]):
            raise NotFound(f"没有解缴单 {handover_no}", code="handover_not_found")
        problem = await self._deposit_problem(found, body)
        if problem is not None:
            raise Conflict(problem, code="deposit_exists")
        return await self._apply_deposit(found, body, principal)

    async def deposits(self, body: DepositFile, principal: Principal) -> dict[str, Any]:
        """The bank's deposit records for many hand-overs: applied whole, or refused whole with
        a reason per row (rows count from 1)."""
        problems, rows = [], []
        if body.declared_count != len(body.deposits):
            problems.append(f"控制总数不符：记录数为 {body.declared_count}，"
                            f"实有 {len(body.deposits)} 条")
        total = sum(d.amount_fen for d in body.deposits)
        if body.declared_total_fen != total:
            problems.append(f"控制总数不符：金额合计为 {fen_to_yuan(body.declared_total_fen)} 元，"
                            f"明细合计 {fen_to_yuan(total)} 元")
        found: list[dict[str, Any] | None] = []
        seen_handovers: set[str] = set()
        seen_refs: set[str] = set()
        for number, d in enumerate(body.deposits, start=1):
            why = []
            h = await self.repo.handover(d.handover_no, for_update=True)
            if h is None or not principal.can_see_region(h["village_code"]):
                why.append(f"没有解缴单 {d.handover_no}（或不在您的区域内）")
            else:
                problem = await self._deposit_problem(h, d)
                if problem is not None:
                    why.append(problem)
            if d.handover_no in seen_handovers:
                why.append(f"解缴单 {d.handover_no} 在本文件中重复")
            if d.bank_ref in seen_refs:
                why.append(f"银行到账记录 {d.bank_ref} 在本文件中重复")
            seen_handovers.add(d.handover_no)
            seen_refs.add(d.bank_ref)
            found.append(h)
            if why:
                rows.append({"row": number, "handover_no": d.handover_no, "reasons": why})
        if problems or rows:
            raise DomainError("银行到账文件整体退回，未登记任何一笔", code="deposit_file_refused",
                              status_code=422, details={"problems": problems, "rows": rows})
        applied = [await self._apply_deposit(h, d, principal)
                   for h, d in zip(found, body.deposits, strict=True) if h is not None]
        return {"status": "applied", "count": len(applied),
                "short": sum(1 for h in applied if h["status"] == "short"),
                "over": sum(1 for h in applied if h["status"] == "over"), "handovers": applied}

    async def _deposit_problem(self, found: dict[str, Any], d: DepositCreate) -> str | None:
        """Why this deposit record cannot be entered for this hand-over (None: it can; the same
        record entered again changes nothing)."""
        if found["bank_ref"] is not None:
            if found["bank_ref"] == d.bank_ref and found["deposited_fen"] == d.amount_fen:
                return None
            return f"解缴单 {found['handover_no']} 已有银行到账记录 {found['bank_ref']}"
        other = await self.repo.handover_of_bank_ref(d.bank_ref)
        if other is not None:
            return f"银行到账记录 {d.bank_ref} 已用于解缴单 {other}"
        return None

    async def _apply_deposit(self, found: dict[str, Any], d: DepositCreate,
                             principal: Principal) -> dict[str, Any]:
        if found["bank_ref"] is None:
            difference = d.amount_fen - found["total_fen"]
            status = "confirmed" if difference == 0 else ("short" if difference < 0 else "over")
            await self.repo.record_deposit(found["id"], bank_ref=d.bank_ref,
                                           amount_fen=d.amount_fen,
                                           deposited_on=d.deposited_on, status=status,
                                           difference_fen=difference, by=principal.subject)
        return _handover(await self.repo.handover_by_id(found["id"]))

    async def receipts(self, principal: Principal, day: dt.date | None) -> list[dict[str, Any]]:
        mine = principal.subject if principal.role == "village_collector" else None
        rows = await self.repo.receipts(region_filter=principal.region_filter, collector=mine,
                                        day=day, limit=5000)
        return [self._receipt(r) for r in rows]

    async def handovers(self, principal: Principal, day: dt.date | None
                        ) -> list[dict[str, Any]]:
        mine = principal.subject if principal.role == "village_collector" else None
        rows = await self.repo.handovers(region_filter=principal.region_filter, collector=mine,
                                         day=day)
        return [_handover(r) for r in rows]

    async def _person_of(self, id_number: str) -> uuid.UUID:
        try:
            ident = parse_id_number(id_number)
        except InvalidIdNumber as exc:
            raise Invalid(f"身份证号码有误：{exc}", field="id_number",
                          code="invalid_id_number") from exc
        pid = await self.repo.person_by_id_hashes(self.vault.lookup_hashes(ident.value))
        if pid is None:
            raise NotFound("未找到该身份证号码的参保人员", code="person_not_found")
        return pid

    async def _order_of(self, receipt_no: str) -> str:
        return await order_of_payment(self.uow, COLLECTOR_CHANNEL, receipt_no)

    @staticmethod
    def _receipt(r: dict[str, Any] | None) -> dict[str, Any]:
        assert r is not None
        return {**r, "person_id": str(r["person_id"]), "amount_yuan": fen_to_yuan(r["amount_fen"]),
                "collected_at": r["collected_at"].isoformat(), "day": r["day"].isoformat(),
                "voided_at": r["voided_at"].isoformat() if r["voided_at"] else None,
                "outcome_zh": OUTCOME_ZH.get(r["outcome"], r["outcome"])}


def _handover(h: dict[str, Any]) -> dict[str, Any]:
    return {**h, "day": h["day"].isoformat(), "created_at": h["created_at"].isoformat(),
            "deposited_on": h["deposited_on"].isoformat() if h["deposited_on"] else None,
            "total_yuan": fen_to_yuan(h["total_fen"]),
            "status_zh": STATUS_ZH[h["status"]] + ("；解缴申报与收据不符，已标记待核查"
                                                  if h["flagged"] else "")}


def _village_of(principal: Principal) -> str:
    """A collector acts for one village (a 12-digit region code whose last three digits are
    not 000, which name a township)."""
    region = principal.region or ""
    if len(region) != 12 or region.endswith("000"):
        raise Forbidden("代收员的区域应为其所在的村（社区），12 位区划代码",
                        code="collector_region_not_village")
    return region
