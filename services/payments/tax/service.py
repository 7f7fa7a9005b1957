"""Exchange with the tax bureau (税务局), docs/EXCHANGE.md.

Outgoing: the dues per person and year (费源) and the special-payment documents (特殊缴费单据:
the government's part per person and budget line), each file holding what changed since the
last file of its series (kind and region), numbered in sequence with its control total. The
file's content is kept: a re-send is the same bytes and changes nothing.

Incoming: the tax bureau's payment records and reversals. A file is checked whole (sequence,
control total, every row) and refused whole with a reason per row in Chinese, or applied whole:
each row booked through `tax.posting.post` (matching's entry point) as a payment of the
channel `tax_bureau` (ledger key: the tax receipt number). The same file again (same sequence
number and content) changes nothing; the same sequence number with other content is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from typing import Any

from services.payments.channels._support import CHINA_TZ
from services.payments.ledger.posting import Posting
from services.payments.tax import files as f
from services.payments.tax.posting import TAX_CHANNEL, order_of_payment, order_to_pay, post
from services.payments.tax.repository import CurrentItem, SentItem, TaxRepository
from shared.auth import Principal, require_region
from shared.errors import DomainError, NotFound
from shared.money import InvalidAmount, fen_to_yuan, yuan_to_fen
from shared.pii import PiiVault
from shared.text import UNSAFE_MESSAGE, has_unsafe_characters

KINDS = {"dues": f.DUES_FILE, "special": f.SPECIAL_FILE}
_RECEIPT = re.compile(r"^[0-9A-Za-z\-_]{1,64}$")
_REGION = re.compile(r"^[0-9]{6}([0-9]{6})?$")
_SEQ = re.compile(r"^[0-9]{1,9}$")


class FileRefused(DomainError):
    status_code = 422
    code = "tax_file_refused"


def document_no(plan_year: int, budget_line: str, person_id: uuid.UUID) -> str:
    """A special-payment document's number: one per person, year and budget line (the same key
    the government's proxy payment is booked under)."""
    return f"{plan_year}:{budget_line}:{person_id}"


class ExchangeService:
    """The exchange over one unit of work (the posting core's), committed by its opener."""

    def __init__(self, posting: Posting, vault: PiiVault) -> None:
        self.posting = posting
        self.uow = posting.uow
        self.vault = vault
        self.repo = TaxRepository(posting.uow.session)

    # --- outgoing -----------------------------------------------------------------------
    async def next_outgoing(self, kind: str, region_code: str, plan_year: int,
                            principal: Principal) -> dict[str, Any] | None:
        """The next file of the series with what changed since the last one; None (and no
        sequence number used) when nothing changed."""
        await self.repo.lock(f"out:{kind}:{region_code}")
        current = {(c.person_id, c.item): c for c in self._current(
            kind, plan_year, await self.repo.dues_in_region(region_code, plan_year))}
        sent = {(s.person_id, s.item): s for s in
                await self.repo.sent_items(kind, region_code, plan_year)}
        rows: list[dict[str, str]] = []
        remembered: list[SentItem] = []
        total = 0
        for key in sorted(set(current) | set(sent), key=lambda k: (str(k[0]), k[1])):
            now, before = current.get(key), sent.get(key)
            if now is not None and (before is None or before.digest != now.digest):
                rows.append({**now.row, f.CHANGE: f.NEW if before is None else f.CHANGED})
                remembered.append(SentItem(now.person_id, now.item, now.region_code,
                                           now.amount_fen, now.digest))
                total += now.amount_fen
            elif now is None and before is not None and before.digest != "withdrawn":
                rows.append(self._withdrawal(kind, plan_year, before))
                remembered.append(SentItem(before.person_id, before.item, before.region_code,
                                           0, "withdrawn"))
        if not rows:
            return None
        seq = await self.repo.next_outgoing_seq(kind, region_code)
        file = f.ExchangeFile(f.control(KINDS[kind], seq, region_code, records=len(rows),
                                        total_fen=total, plan_year=plan_year), rows)
        content = file.render_csv(f.DUES_COLUMNS if kind == "dues" else f.SPECIAL_COLUMNS)
        file_id = await self.repo.add_outgoing(
            kind=kind, region_code=region_code, plan_year=plan_year, seq_no=seq,
            record_count=len(rows), total_fen=total, content=content, sha256=f.digest(file),
            created_by=principal.subject)
        await self.repo.remember_sent(kind, plan_year, file_id, remembered)
        return await self.outgoing(file_id, principal)

    async def outgoing_files(self, principal: Principal, kind: str | None
                             ) -> list[dict[str, Any]]:
        """The files sent to the tax bureau in the caller's region, without their content."""
        rows = await self.repo.outgoing_files(principal.region_filter, kind)
        return [{**r, "created_at": r["created_at"].isoformat()} for r in rows]

    async def outgoing(self, file_id: int, principal: Principal) -> dict[str, Any]:
        row = await self.repo.outgoing_file(file_id)
        if row is None or not principal.can_see_region(row["region_code"]):
            raise NotFound(f"没有编号为 {file_id} 的交换文件", code="tax_file_not_found")
        return {"id": row["id"], "kind": row["kind"], "file_type": KINDS[row["kind"]],
                "region_code": row["region_code"], "plan_year": row["plan_year"],
                "seq_no": row["seq_no"], "record_count": row["record_count"],
                "total_fen": row["total_fen"], "total_yuan": fen_to_yuan(row["total_fen"]),
                "sha256": row["sha256"], "created_at": row["created_at"].isoformat(),
                "content": row["content"]}

    def _current(self, kind: str, plan_year: int, dues: list[dict[str, Any]]
                 ) -> list[CurrentItem]:
        out = []
        for d in dues:
            base = {f.PERSON_NO: str(d["person_id"]), f.ID_NUMBER: d["id_number_masked"] or "",
                    f.NAME: d["name_masked"] or "", f.PLAN_YEAR: str(plan_year),
                    f.REGION: d["region"],
                    f.BASIS: f"{d['plan_region']}-{plan_year} 实施方案，政策文件版本 "
                             f"{str(d['policy_version'])[:16]}"}
            if not d["enrolled"]:
                continue  # not (or no longer) enrolled: nothing is owed, a sent item is withdrawn
            if kind == "dues":
                category = f.CATEGORY_ZH.get(d["insured_category"] or "", "")
                row = {**base, f.CATEGORY: category, f.STANDARD: fen_to_yuan(d["standard_fen"]),
                       f.OWED: fen_to_yuan(d["personal_fen"])}
                digest = f"{d['personal_fen']}|{d['standard_fen']}|{category}|{d['region']}"
                out.append(CurrentItem(d["person_id"], "", d["region"], d["personal_fen"],
                                       digest, row))
                continue
            lines: Counter[str] = Counter()
            for s in d["subsidies"] or []:
                lines[str(s.get("funding_source"))] += int(s["amount_fen"])
            for line, amount in sorted(lines.items()):
                if amount <= 0:
                    continue
                row = {**base, f.DOCUMENT_NO: document_no(plan_year, line, d["person_id"]),
                       f.BUDGET_LINE: f.BUDGET_LINE_ZH.get(line, line),
                       f.SUBSIDY: fen_to_yuan(amount)}
                out.append(CurrentItem(d["person_id"], line, d["region"], amount,
                                       f"{amount}|{d['region']}", row))
        return out

    @staticmethod
    def _withdrawal(kind: str, plan_year: int, before: SentItem) -> dict[str, str]:
        row = {f.CHANGE: f.WITHDRAWN, f.PERSON_NO: str(before.person_id),
               f.PLAN_YEAR: str(plan_year), f.REGION: before.region_code}
        if kind == "dues":
            return {**row, f.OWED: fen_to_yuan(0)}
        return {**row, f.DOCUMENT_NO: document_no(plan_year, before.item, before.person_id),
                f.BUDGET_LINE: f.BUDGET_LINE_ZH.get(before.item, before.item),
                f.SUBSIDY: fen_to_yuan(0)}

    # --- incoming -----------------------------------------------------------------------
    async def apply_payments(self, file: f.ExchangeFile, principal: Principal) -> dict[str, Any]:
        sha = f.digest(file)
        region, seq, problems = self._check_control(file, f.PAYMENTS_FILE)
        if region is not None:
            require_region(principal, region)
            await self.repo.lock(f"in:{region}")
        if region is not None and seq is not None:
            earlier = await self.repo.incoming_by_seq(region, seq)
            if earlier is not None:
                if earlier["sha256"] == sha:
                    return {"status": "already_applied", "file_id": earlier["id"],
                            "seq_no": seq, "outcomes": earlier["outcomes"],
                            "message": f"第 {seq} 号文件已于 {earlier['created_at'].isoformat()}"
                                       " 入账，本次重发未做任何变动"}
                problems.append(f"文件序号 {seq} 已用于另一份内容不同的文件："
                                "同一序号不能重发不同内容")
            else:
                expected = await self.repo.last_incoming_seq(region) + 1
                if seq != expected:
                    problems.append(f"文件序号不连续：应为 {expected}，收到 {seq}")
        rows, reasons = await self._check_rows(file.rows, region)
        problems.extend(self._check_totals(file, rows, amounts=not reasons))
        if problems or reasons:
            raise FileRefused("文件整体退回，未入账任何一笔", details={
                "problems": problems, "rows": reasons, "region_code": region, "seq_no": seq,
                "sha256": sha})
        assert region is not None and seq is not None
        file_id = await self.repo.add_incoming(
            region_code=region, seq_no=seq, record_count=len(rows),
            total_fen=_net(rows), sha256=sha, received_by=principal.subject)
        outcomes: Counter[str] = Counter()
        for row in rows:
            outcome = await self._book(row)
            outcomes[outcome] += 1
            await self.repo.add_record(file_id=file_id, outcome=outcome, **row)
        await self.repo.set_outcomes(file_id, dict(outcomes))
        return {"status": "applied", "file_id": file_id, "seq_no": seq,
                "record_count": len(rows), "outcomes": dict(outcomes)}

    async def keep_refusal(self, refused: FileRefused, principal: Principal) -> None:
        """A refused payment file is kept on record although nothing of it was booked (the
        refusal is raised before anything is written)."""
        d = refused.details
        await self.repo.add_refusal(
            region_code=d["region_code"], seq_no=d["seq_no"], sha256=d["sha256"],
            problems=d["problems"], rows=d["rows"], received_by=principal.subject)

    async def _book(self, row: dict[str, Any]) -> str:
        if row["record_type"] == "payment":
            order_no = await order_to_pay(self.uow, row["person_id"], row["plan_year"])
            return await post(self.posting, channel=TAX_CHANNEL, txn=row["receipt_no"],
                              kind="payment", order_no=order_no or f"TAX-{row['receipt_no']}",
                              amount_fen=row["amount_fen"], paid_at=row["paid_at"],
                              origin="tax_file")
        order_no = await order_of_payment(self.uow, TAX_CHANNEL, row["reverses"])
        return await post(self.posting, channel=TAX_CHANNEL, txn=row["reverses"],
                          kind="reversal", order_no=order_no, amount_fen=row["amount_fen"],
                          paid_at=row["paid_at"], origin="tax_file")

    @staticmethod
    def _check_control(file: f.ExchangeFile, file_type: str
                       ) -> tuple[str | None, int | None, list[str]]:
        c, problems = file.control, []
        if c.get(f.FILE_TYPE) != file_type:
            problems.append(f"文件类型应为“{file_type}”，收到“{c.get(f.FILE_TYPE)}”")
        region = c.get(f.REGION, "")
        if not _REGION.match(region):
            problems.append(f"行政区划代码“{region}”应为 6 位或 12 位数字")
            region = None  # type: ignore[assignment]
        seq_text = c.get(f.SEQ_NO, "")
        seq = int(seq_text) if _SEQ.match(seq_text) and int(seq_text) > 0 else None
        if seq is None:
            problems.append(f"文件序号“{seq_text}”应为正整数")
        return region, seq, problems

    @staticmethod
    def _check_totals(file: f.ExchangeFile, rows: list[dict[str, Any]], *,
                      amounts: bool) -> list[str]:
        """Record count and net amount against the control block (the amount only when every
        row could be read)."""
        problems = []
        records, total = file.control.get(f.RECORDS, ""), file.control.get(f.TOTAL, "")
        if records != str(len(file.rows)):
            problems.append(f"控制总数不符：记录数为 {records}，文件实有 {len(file.rows)} 条明细")
        if not amounts:
            return problems
        try:
            declared = yuan_to_fen(total)
        except InvalidAmount:
            problems.append(f"控制总数不符：金额合计“{total}”不是以元为单位、最多两位小数的金额")
        else:
            if declared != _net(rows):
                problems.append(f"控制总数不符：金额合计为 {total} 元，明细合计（缴费减冲正）为 "
                                f"{fen_to_yuan(_net(rows))} 元")
        return problems

    async def _check_rows(self, raw: list[dict[str, str]], region: str | None, *,
                          against_records: bool = True
                          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows parsed, and a reason per refused row (row numbers count from 1).
        `against_records`: a receipt already received must say the same, and a reversal must
        name a payment received (payment files; a reconciliation's collection detail is compared
        instead)."""
        ids = [_uuid(r.get(f.PERSON_NO, "")) for r in raw]
        persons = await self.repo.persons([i for i in ids if i is not None])
        years = await self.repo.dues_years(list(persons))
        receipts = [r.get(f.RECEIPT_NO, "") for r in raw] + [r.get(f.REVERSES, "") for r in raw]
        known = (await self.repo.records_by_receipt([x for x in receipts if x])
                 if against_records else {})
        today = dt.datetime.now(CHINA_TZ).date()
        parsed: list[dict[str, Any]] = []
        reasons: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        paid_here: dict[str, tuple[uuid.UUID, int]] = {}
        for number, (r, pid) in enumerate(zip(raw, ids, strict=True), start=1):
            why: list[str] = [f"“{column}”{UNSAFE_MESSAGE}" for column, value in r.items()
                              if has_unsafe_characters(value)]
            kind = {f.PAYMENT: "payment", f.REVERSAL: "reversal"}.get(r.get(f.RECORD_TYPE, ""))
            if kind is None:
                why.append(f"记录类型“{r.get(f.RECORD_TYPE, '')}”应为“缴费”或“冲正”")
            receipt = r.get(f.RECEIPT_NO, "")
            if not _RECEIPT.match(receipt):
                why.append("税票号码为空或含有字母、数字、“-”“_”以外的字符（最长 64 位）")
            elif kind and (kind, receipt) in seen:
                why.append(f"税票号码 {receipt} 在本文件中重复")
            seen.add((kind or "", receipt))
            person = persons.get(pid) if pid else None
            if pid is None:
                why.append("人员编号应为医保系统下发费源中的人员编号")
            elif person is None:
                why.append(f"人员编号 {pid} 在医保系统中不存在")
            elif region and not (person["region"] or "").startswith(region):
                why.append(f"该人员不属于本文件的行政区划 {region}")
            id_number = r.get(f.ID_NUMBER, "")
            if person is not None and id_number and "*" not in id_number and \
                    person["id_number_hash"] not in self.vault.lookup_hashes(id_number):
                why.append("证件号码与人员编号不符")
            year_text = r.get(f.PLAN_YEAR, "")
            year = int(year_text) if re.fullmatch(r"20[0-9]{2}", year_text) else None
            if year is None:
                why.append(f"缴费年度“{year_text}”应为四位年份")
            elif person is not None and (pid, year) not in years:
                why.append(f"该人员 {year} 年度没有参保核定结果（费源中没有此人）")
            try:
                amount = yuan_to_fen(r.get(f.AMOUNT, ""))
                if amount <= 0:
                    why.append("缴费金额应大于零")
            except InvalidAmount:
                amount = 0
                why.append(f"缴费金额“{r.get(f.AMOUNT, '')}”应为以元为单位、最多两位小数的金额")
            paid_on, paid_at = _paid(r.get(f.PAID_ON, ""))
            if paid_on is None:
                why.append(f"缴费日期“{r.get(f.PAID_ON, '')}”"
                           "应为 YYYY-MM-DD 或 YYYY-MM-DD HH:MM:SS")
            elif paid_on > today:
                why.append(f"缴费日期 {paid_on.isoformat()} 晚于今天")
            tax_channel = r.get(f.TAX_CHANNEL, "")
            if not tax_channel or len(tax_channel) > 64:
                why.append("缴费渠道不能为空（最长 64 字）")
            reverses = r.get(f.REVERSES, "") or None
            if kind == "reversal" and not against_records:
                why.extend([] if reverses else ["冲正记录应填写原税票号码"])
            elif kind == "reversal":
                why.extend(self._check_reversal(reverses, pid, year, amount, known, paid_here))
            elif kind == "payment" and reverses:
                why.append("缴费记录不应填写原税票号码")
            before = known.get((kind or "", receipt))
            if before is not None and (before["person_id"], before["plan_year"],
                                       before["amount_fen"], before["paid_on"]) != (
                                           pid, year, amount, paid_on):
                why.append(f"税票号码 {receipt} 已在第 {before['seq_no']} 号文件中收到，"
                           "内容与本次不同")
            if why:
                reasons.append({"row": number, "税票号码": receipt, "reasons": why})
                continue
            assert pid is not None and year is not None and paid_on and paid_at and kind
            if kind == "payment":
                paid_here[receipt] = (pid, year)
            parsed.append({"row_no": number, "record_type": kind, "receipt_no": receipt,
                           "reverses": reverses, "person_id": pid, "plan_year": year,
                           "amount_fen": amount, "paid_on": paid_on, "paid_at": paid_at,
                           "tax_channel": tax_channel,
                           "invoice_no": r.get(f.INVOICE_NO, "") or None})
        return parsed, reasons

    @staticmethod
    def _check_reversal(reverses: str | None, pid: uuid.UUID | None, year: int | None,
                        amount: int, known: dict[tuple[str, str], dict[str, Any]],
                        paid_here: dict[str, tuple[uuid.UUID, int]]) -> list[str]:
        if not reverses:
            return ["冲正记录应填写原税票号码"]
        original = known.get(("payment", reverses))
        if original is not None:
            if (original["person_id"], original["plan_year"]) != (pid, year):
                return [f"原税票号码 {reverses} 的缴费不是该人员该年度的"]
            if original["amount_fen"] != amount:
                return [f"冲正金额 {fen_to_yuan(amount)} 元与原缴费金额 "
                        f"{fen_to_yuan(original['amount_fen'])} 元不符"]
            return []
        if reverses in paid_here:
            return [] if paid_here[reverses] == (pid, year) else [
                f"原税票号码 {reverses} 的缴费不是该人员该年度的"]
        return [f"原税票号码 {reverses} 未收到过对应的缴费记录"]


def _net(rows: list[dict[str, Any]]) -> int:
    return sum(r["amount_fen"] if r["record_type"] == "payment" else -r["amount_fen"]
               for r in rows)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _paid(value: str) -> tuple[dt.date | None, dt.datetime | None]:
    """A payment date (Beijing time) and the moment booked: the time given, else noon."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            moment = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d":
            moment = moment.replace(hour=12)
        moment = moment.replace(tzinfo=CHINA_TZ)
        return moment.date(), moment
    return None, None

