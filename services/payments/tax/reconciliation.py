"""Reconciliation medical insurance <-> tax (对账) for a period.

The tax bureau reports what it collected in the period (征收明细: the same row format as its
payment records, with the period in the control block). It is compared per person and plan
year, and per day, with what was booked here: the applied payments of persons (every channel,
the tax bureau's and the village collectors' included) less their applied reversals, dated in
the period (Beijing dates). Differences by kind:

- tax_only: collected at tax, nothing booked here;
- ledger_only: booked here, absent at tax;
- amount_differs: both have it, amounts differ;
- dates_differ: same amount, another payment date.

Each difference is resolved with an action and a reason, recorded with who resolved it (and in
the audit log, as every write). The period report (JSON, XLSX) carries the totals; the
completed reconciliation is published as payments.tax_reconciliation_completed.v1 (channel
'tax_bureau'), which feeds reporting's reconciliation summary, and again when a difference is
resolved (a higher revision).

The plan sets how often the two reconcile (policy `tax_reconciliation.min_per_month`; Shuozhou:
at least twice a month); `schedule` answers whether a month met it.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections import defaultdict
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from kernels.policy.schema import (
    DEFAULT_TAX_RECONCILIATION_ASSUMPTION,
    DEFAULT_TAX_RECONCILIATION_PER_MONTH,
)
from services.payments import events
from services.payments.ledger.posting import Posting
from services.payments.tax import files as f
from services.payments.tax.posting import TAX_CHANNEL
from services.payments.tax.repository import TaxRepository
from services.payments.tax.service import ExchangeService, FileRefused
from shared import office
from shared.auth import Principal, require_region
from shared.errors import Conflict, Invalid, NotFound
from shared.money import fen_to_yuan
from shared.pii import PiiVault

KINDS = ("tax_only", "ledger_only", "amount_differs", "dates_differ")
KIND_ZH = {"tax_only": "税务已征收、医保未入账", "ledger_only": "医保已入账、税务无记录",
           "amount_differs": "金额不一致", "dates_differ": "缴费日期不一致"}
ACTION_ZH = {"corrected_here": "医保侧已更正", "corrected_at_tax": "税务侧更正",
             "accepted": "核实无误、予以认可", "timing": "跨期，计入下期"}


class Side:
    """One side's net per person and year, its payment days, and its daily totals."""

    def __init__(self) -> None:
        self.net: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
        self.days: dict[tuple[uuid.UUID, int], set[dt.date]] = defaultdict(set)
        self.refs: dict[tuple[uuid.UUID, int], list[Any]] = defaultdict(list)
        self.daily: dict[dt.date, int] = defaultdict(int)
        self.count = 0

    def add(self, key: tuple[uuid.UUID, int], kind: str, amount: int, day: dt.date,
            ref: Any) -> None:
        signed = amount if kind == "payment" else -amount
        self.net[key] += signed
        self.daily[day] += signed
        self.refs[key].append(ref)
        self.count += 1
        if kind == "payment":
            self.days[key].add(day)

    def totals(self) -> dict[str, int]:
        return {"count": self.count, "net_fen": sum(self.net.values()),
                "persons": sum(1 for v in self.net.values() if v)}


def compare(tax: Side, ledger: Side) -> tuple[int, list[dict[str, Any]]]:
    """How many person-years match, and the differences (pure: no I/O)."""
    matched, out = 0, []
    for key in sorted(set(tax.net) | set(ledger.net), key=lambda k: (str(k[0]), k[1])):
        t, b = tax.net.get(key, 0), ledger.net.get(key, 0)
        td, bd = max(tax.days.get(key) or {None}, key=_day), max(
            ledger.days.get(key) or {None}, key=_day)
        if t == b == 0:
            matched += 1 if key in tax.net or key in ledger.net else 0
            continue
        if b == 0:
            kind, detail = "tax_only", f"税务征收 {fen_to_yuan(t)} 元，医保未入账"
        elif t == 0:
            kind, detail = "ledger_only", f"医保入账 {fen_to_yuan(b)} 元，税务无征收记录"
        elif t != b:
            kind = "amount_differs"
            detail = (f"税务 {fen_to_yuan(t)} 元，医保 {fen_to_yuan(b)} 元，"
                      f"相差 {fen_to_yuan(t - b)} 元")
        elif tax.days.get(key, set()) != ledger.days.get(key, set()):
            kind, detail = "dates_differ", (f"金额一致；税务缴费日期 {_iso(td)}，"
                                            f"医保入账日期 {_iso(bd)}")
        else:
            matched += 1
            continue
        out.append({"kind": kind, "person_id": key[0], "plan_year": key[1],
                    "tax_amount_fen": t if key in tax.net else None,
                    "ledger_amount_fen": b if key in ledger.net else None,
                    "tax_paid_on": td, "ledger_paid_on": bd,
                    "receipt_nos": [str(x) for x in tax.refs.get(key, [])],
                    "ledger_ids": [int(x) for x in ledger.refs.get(key, [])],
                    "detail": detail})
    return matched, out


def _day(d: dt.date | None) -> dt.date:
    return d or dt.date.min


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else "无"


class TaxReconciliationService:
    """Reconciliations over one unit of work (the posting core's), committed by its opener."""

    def __init__(self, posting: Posting, vault: PiiVault) -> None:
        self.posting = posting
        self.uow = posting.uow
        self.coverage = posting.coverage
        self.vault = vault
        self.repo = TaxRepository(posting.uow.session)

    async def reconcile(self, file: f.ExchangeFile, principal: Principal) -> dict[str, Any]:
        c = file.control
        problems = []
        if c.get(f.FILE_TYPE) != f.COLLECTED_FILE:
            problems.append(f"文件类型应为“{f.COLLECTED_FILE}”，收到“{c.get(f.FILE_TYPE)}”")
        try:
            start = dt.date.fromisoformat(c.get(f.PERIOD_START, ""))
            end = dt.date.fromisoformat(c.get(f.PERIOD_END, ""))
        except ValueError:
            raise Invalid("起始日期、截止日期应为 YYYY-MM-DD", code="tax_file_unreadable") from None
        if end < start:
            problems.append("截止日期早于起始日期")
        region = c.get(f.REGION, "")
        if len(region) not in (6, 12) or not region.isdigit():
            raise Invalid(f"行政区划代码“{region}”应为 6 位或 12 位数字",
                          code="tax_file_unreadable")
        require_region(principal, region)
        exchange = ExchangeService(self.posting, self.vault)
        rows, reasons = await exchange._check_rows(file.rows, region, against_records=False)
        problems.extend(exchange._check_totals(file, rows, amounts=not reasons))
        outside = [r["row_no"] for r in rows if not start <= r["paid_on"] <= end]
        if outside:
            problems.append(f"第 {'、'.join(map(str, outside))} 行的缴费日期不在对账期间内")
        if problems or reasons:
            raise FileRefused("征收明细整体退回，未对账", details={"problems": problems,
                                                                "rows": reasons})
        sha = f.digest(file)
        existing = await self.repo.reconciliation_of_period(region, start, end)
        if existing is not None:
            if existing[1] == sha:
                return await self.report(existing[0], principal)
            raise Conflict(f"{region} {start}～{end} 已对账（编号 {existing[0]}），"
                           "内容不同的征收明细不能覆盖已有对账；差异请逐条处理",
                           code="tax_reconciliation_exists")
        tax, ledger = Side(), Side()
        for r in rows:
            tax.add((r["person_id"], r["plan_year"]), r["record_type"], r["amount_fen"],
                    r["paid_on"], r["receipt_no"])
        for lid, pid, year, kind, amount, day, _channel in await self.repo.booked_movements(
                region, start, end):
            ledger.add((pid, year), kind, amount, day, lid)
        matched, diffs = compare(tax, ledger)
        counts = {"matched": matched, **{k: sum(1 for d in diffs if d["kind"] == k)
                                         for k in KINDS}}
        schedule = await self.schedule(region, end)
        seq = c.get(f.SEQ_NO, "")
        rec_id = await self.repo.add_reconciliation(
            region_code=region, start=start, end=end,
            seq_no=int(seq) if seq.isdigit() else None, sha256=sha,
            tax_totals={**tax.totals(), "daily": _daily(tax)},
            ledger_totals={**ledger.totals(), "daily": _daily(ledger)}, counts=counts,
            schedule=schedule, created_by=principal.subject)
        for d in diffs:
            await self.repo.add_difference(rec_id, d)
        await self._publish(rec_id)
        return await self.report(rec_id, principal)

    async def resolve(self, rec_id: int, diff_id: int, action: str, reason: str,
                      principal: Principal) -> dict[str, Any]:
        rec = await self._get(rec_id, principal, lock=True)
        resolved = await self.repo.resolve_difference(rec["id"], diff_id, {
            "action": action, "action_zh": ACTION_ZH[action], "reason": reason,
            **principal.audit_fields(), "at": dt.datetime.now(dt.UTC).isoformat()})
        if not resolved:
            if await self.repo.difference_status(rec["id"], diff_id) is None:
                raise NotFound(f"对账 {rec_id} 中没有差异 {diff_id}", code="difference_not_found")
            raise Conflict(f"差异 {diff_id} 已处理", code="difference_resolved")
        await self.repo.next_revision(rec["id"])
        await self._publish(rec["id"])
        return await self.report(rec_id, principal)

    async def schedule(self, region_code: str, day: dt.date) -> dict[str, Any]:
        """The plan's reconciliations per month, and how many the month of `day` had."""
        policy = None
        for year in (day.year + 1, day.year):  # collection for plan year Y runs in Y-1 and Y
            policy = self.coverage.policy(region_code[:6], year)
            if policy is not None:
                break
        setting = policy.model.tax_reconciliation if policy is not None else None
        if setting is not None:
            required, source = setting.min_per_month, setting.source
            assumptions = list(setting.assumptions)
        else:
            required, source = DEFAULT_TAX_RECONCILIATION_PER_MONTH, None
            assumptions = [DEFAULT_TAX_RECONCILIATION_ASSUMPTION]
        first = day.replace(day=1)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        done = await self.repo.reconciliations_ending(region_code, first, after)
        return {"region_code": region_code, "month": first.strftime("%Y-%m"),
                "required_per_month": required, "done": done, "met": done >= required,
                "plan": f"{policy.region_code}-{policy.plan_year}" if policy else None,
                "source": source, "assumptions": assumptions,
                "explanation": (f"方案要求每月至少对账 {required} 次，本月已对账 {done} 次"
                                + ("" if source else "（方案未规定频次，按假设）"))}

    async def report(self, rec_id: int, principal: Principal) -> dict[str, Any]:
        rec = await self._get(rec_id, principal)
        diffs = await self.repo.differences(rec["id"])
        items = [{**d, "person_id": str(d["person_id"]), "kind_zh": KIND_ZH[d["kind"]],
                  "tax_paid_on": _iso_or_none(d["tax_paid_on"]),
                  "ledger_paid_on": _iso_or_none(d["ledger_paid_on"])} for d in diffs]
        open_count = sum(1 for d in items if d["status"] == "open")
        return {"id": rec["id"], "region_code": rec["region_code"],
                "period_start": rec["period_start"].isoformat(),
                "period_end": rec["period_end"].isoformat(), "revision": rec["revision"],
                "tax_totals": rec["tax_totals"], "ledger_totals": rec["ledger_totals"],
                "totals_match": rec["tax_totals"]["net_fen"] == rec["ledger_totals"]["net_fen"],
                "counts": {**rec["counts"], "open": open_count,
                           "resolved": len(items) - open_count},
                "schedule": rec["schedule"], "differences": items,
                "created_at": rec["created_at"].isoformat()}

    async def report_xlsx(self, rec_id: int, principal: Principal) -> bytes:
        r = await self.report(rec_id, principal)
        wb = Workbook()
        ws = wb.active
        ws.title = "汇总"
        ws.append(["行政区划代码", r["region_code"]])
        ws.append(["对账期间", f"{r['period_start']} 至 {r['period_end']}"])
        ws.append(["项目", "税务", "医保"])
        ws.append(["笔数", r["tax_totals"]["count"], r["ledger_totals"]["count"]])
        ws.append(["净额（元）", office.yuan(r["tax_totals"]["net_fen"]),
                   office.yuan(r["ledger_totals"]["net_fen"])])
        ws.append(["人数", r["tax_totals"]["persons"], r["ledger_totals"]["persons"]])
        ws.append([])
        ws.append(["核对一致（人·年度）", r["counts"]["matched"]])
        for k in KINDS:
            ws.append([KIND_ZH[k], r["counts"][k]])
        ws.append(["未处理差异", r["counts"]["open"]])
        ws.append(["已处理差异", r["counts"]["resolved"]])
        ws.append([])
        ws.append(["对账频次", r["schedule"]["explanation"]])
        days = ws.parent.create_sheet("按日")
        days.append(["日期", "税务净额（元）", "医保净额（元）", "差额（元）"])
        tax_daily, ledger_daily = r["tax_totals"]["daily"], r["ledger_totals"]["daily"]
        for on in sorted(set(tax_daily) | set(ledger_daily)):
            t, b = tax_daily.get(on, 0), ledger_daily.get(on, 0)
            days.append([office.day(on), office.yuan(t), office.yuan(b), office.yuan(t - b)])
        if days.max_row > 1:
            last = days.max_row
            days.append(["合计", *(f"=SUM({c}2:{c}{last})" for c in "BCD")])
            for cell in days[days.max_row]:
                cell.font = Font(bold=True)
                if cell.column > 1:
                    cell.number_format = office.AMOUNT_FORMAT
        sheet = ws.parent.create_sheet("差异明细")
        sheet.append(["差异编号", "差异类型", "人员编号", "证件号码", "姓名", "缴费年度",
                      "税务金额（元）", "医保金额（元）", "税务缴费日期", "医保入账日期", "说明",
                      "状态", "处理方式", "处理说明", "处理人"])
        for d in r["differences"]:
            res = d["resolution"] or {}
            sheet.append([d["id"], d["kind_zh"], d["person_id"], d["id_number_masked"],
                          d["name_masked"], d["plan_year"], office.yuan(d["tax_amount_fen"]),
                          office.yuan(d["ledger_amount_fen"]), office.day(d["tax_paid_on"]),
                          office.day(d["ledger_paid_on"]),
                          d["detail"], "已处理" if d["status"] == "resolved" else "未处理",
                          res.get("action_zh"), res.get("reason"), res.get("actor")])
        office.finish(ws, title_rows=0)
        office.finish(days)
        office.finish(sheet)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    async def _get(self, rec_id: int, principal: Principal, *, lock: bool = False
                   ) -> dict[str, Any]:
        row = await self.repo.reconciliation(rec_id, lock=lock)
        if row is None or not principal.can_see_region(row["region_code"]):
            raise NotFound(f"没有编号为 {rec_id} 的对账", code="tax_reconciliation_not_found")
        return row

    async def _publish(self, rec_id: int) -> None:
        rec = await self.repo.reconciliation(rec_id)
        assert rec is not None
        status = await self.repo.difference_counts(rec_id)
        tax_totals = {k: v for k, v in rec["tax_totals"].items() if k != "daily"}
        ledger_totals = {k: v for k, v in rec["ledger_totals"].items() if k != "daily"}
        summary = {
            "reconciliation_id": f"tax:{rec_id}", "channel": TAX_CHANNEL,
            "statement_date": rec["period_end"].isoformat(),
            "period_start": rec["period_start"].isoformat(),
            "period_end": rec["period_end"].isoformat(), "region_code": rec["region_code"],
            "counts": rec["counts"], "tax_totals": tax_totals, "ledger_totals": ledger_totals,
            "differences": {"open": int(status.get("open", 0)),
                            "resolved": int(status.get("resolved", 0))},
            "totals_match": tax_totals["net_fen"] == ledger_totals["net_fen"],
            "clean": int(status.get("open", 0)) == 0, "revision": rec["revision"],
            "completed_at": dt.datetime.now(dt.UTC).isoformat()}
        await self.uow.publish(events.TaxReconciliationCompleted.model_validate(summary),
                               subject=f"tax:{rec_id}")


def _daily(side: Side) -> dict[str, int]:
    return {d.isoformat(): v for d, v in sorted(side.daily.items())}


def _iso_or_none(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None

