"""Publicity lists (公示表), reminder lists (催缴提醒) and funding applications (资金申请)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernels.codes import BUDGET_LINE_NAMES_ZH
from kernels.policy import PolicyCatalog
from services.reporting.exports import Table
from services.reporting.lists import repository as repo
from services.reporting.names import Names, names_for
from services.reporting.plans import plan_for
from services.reporting.progress.service import today_in_china
from services.reporting.regions import Region
from shared.errors import Invalid, NotFound
from shared.idnumber import mask_id_number, mask_phone
from shared.money import fen_to_yuan
from shared.pii import PiiVault

REASONS = {
    "worker_away": "外出务工",
    "employee_scheme": "参加职工医保",
    "died": "死亡",
    "enlisted": "参军入伍",
    "insured_elsewhere": "在外地参保",
    "refuses": "拒绝缴费",
    "other": "其他",
}
SITUATIONS = {"renewal": "上年参保、本年未缴费", "registered": "已登记、未缴费"}
PAYERS = {"person": "个人缴费", "government": "政府代缴"}
BUDGET_LINES = BUDGET_LINE_NAMES_ZH


def list_title(budget_line: str) -> str:
    """The medical assistance fund pays the civil-affairs and poverty groups (政府资助人员);
    the other budget lines pay proxy payments for special groups (政府代缴人员)."""
    return "政府资助人员名单" if budget_line == "medical_assistance_fund" else "政府代缴人员名单"


def _where(names: Names, region: Region) -> str:
    """县 镇 村 as a person reads them, down to the region's own rank."""
    codes = [c for c in (region.county_code, region.township_code, region.village_code) if c]
    return "".join(names[c] for c in codes) or names[region.code]


async def publicity_list(session: AsyncSession, region: Region, plan_year: int,
                         plans: PolicyCatalog | None = None) -> dict[str, Any]:
    """Everyone whose whole due is covered, one row per payer and what that payer paid (a
    person whose own part and whose city half were both paid has two rows)."""
    plan = plan_for(region.code[:6], plan_year, plans) if region.rank != "nation" else None
    people = await repo.paid_in(session, region, plan_year)
    names = await names_for(session, [region.code, region.county_code, region.township_code,
                                      *(p["village_code"] for p in people)])
    rows: list[dict[str, Any]] = []
    for p in people:
        for payer in ("person", "government"):
            fen, on = p[f"paid_{payer}_fen"], p[f"paid_{payer}_on"]
            if on is None or not fen:
                continue
            rows.append({
                "no": len(rows) + 1, "person_id": str(p["person_id"]),
                "name": p["name_masked"], "id_number": mask_id_number(p["id_number_masked"]),
                "village_code": p["village_code"], "village_name": names[p["village_code"]],
                "amount_fen": fen, "amount_yuan": fen_to_yuan(fen), "paid_on": on.isoformat(),
                "payer": payer, "payer_name": PAYERS[payer],
            })
    return {
        "region_code": region.code, "region_name": _where(names, region),
        "village_code": region.village_code,
        "village_name": names[region.village_code] if region.village_code else None,
        "township_code": region.township_code,
        "township_name": names[region.township_code] if region.township_code else None,
        "county_code": region.county_code,
        "county_name": names[region.county_code] if region.county_code else None,
        "plan_year": plan_year,
        "publicity_from": plan.publicity_from.isoformat() if plan else None,
        "publicity_until": plan.publicity_until.isoformat() if plan else None,
        "minimum_days": 5, "count": len(people), "row_count": len(rows),
        "total_fen": sum(r["amount_fen"] for r in rows),
        "total_yuan": fen_to_yuan(sum(r["amount_fen"] for r in rows)), "rows": rows,
    }


def publicity_table(data: dict[str, Any]) -> Table:
    period = (f"公示期：{data['publicity_from']} 至 {data['publicity_until']}"
              if data["publicity_from"] else "公示期不少于5天")
    columns = [("no", "序号"), ("name", "姓名"), ("id_number", "身份证号码"),
               ("amount_yuan", "缴费金额（元）"), ("paid_on", "缴费日期"),
               ("payer_name", "缴费方式")]
    if not data["village_code"]:
        columns.insert(1, ("village_name", "村（社区）"))
    return Table(
        title=f"{data['plan_year']}年度城乡居民基本医疗保险参保缴费公示表",
        subtitle=f"{data['region_name']}　{period}",
        columns=columns,
        rows=data["rows"],
    )


def _opened(sealed: str | None, vault: PiiVault | None) -> str | None:
    """A value sealed with the PII key, or None (none, no vault, or sealed with another key:
    the list shows nothing rather than fail)."""
    if not sealed or vault is None:
        return None
    try:
        return vault.decrypt(sealed)
    except Exception:
        return None


def _contacts(p: dict[str, Any], vault: PiiVault | None, full: bool) -> dict[str, Any]:
    """Name, phone, household and address as the caller may see them: in full for the staff
    who phone people (services.reporting.access.sees_contact_details), else the masked name
    and phone only."""
    phone = _opened(p["phone_enc"], vault)
    if not full:
        return {"name": p["name_masked"], "phone": mask_phone(phone) if phone else None,
                "household_no": None, "address": None}
    return {"name": _opened(p["name_enc"], vault) or p["name_masked"], "phone": phone,
            "household_no": p["household_no"], "address": _opened(p["address_enc"], vault)}


def _owed(p: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    """What the person-year still owes if paid on `as_of`: the late outcome once its on-time
    days are over and nothing has settled it on time, else the on-time one."""
    if p["owed_person_fen"] is None:  # no determination yet (or nothing known this year)
        return {"owed_fen": None, "owed_yuan": None, "owed_person_fen": None,
                "owed_government_fen": None, "owed_basis": None}
    late = (p["owed_late_fen"] is not None and p["on_time_until"] is not None
            and as_of > p["on_time_until"])
    if late:
        return {"owed_fen": p["owed_late_fen"], "owed_yuan": fen_to_yuan(p["owed_late_fen"]),
                "owed_person_fen": p["owed_late_fen"], "owed_government_fen": 0,
                "owed_basis": "late"}
    owed = p["owed_person_fen"] + p["owed_government_fen"]
    return {"owed_fen": owed, "owed_yuan": fen_to_yuan(owed),
            "owed_person_fen": p["owed_person_fen"],
            "owed_government_fen": p["owed_government_fen"], "owed_basis": "on_time"}


async def reminder_list(session: AsyncSession, region: Region, plan_year: int, *,
                        vault: PiiVault | None = None, contacts: bool = False,
                        as_of: dt.date | None = None) -> dict[str, Any]:
    """Everyone registered (or paid in full last year) whose whole due is not yet covered,
    with what they still owe themselves and, for the staff who phone them (`contacts`), their
    name, phone, household and address in full; people who owe nothing of their own (nothing
    due, or only a government part still unpaid) are never on it."""
    as_of = as_of or today_in_china()
    people = await repo.unpaid_in(session, region, plan_year)
    names = await names_for(session, [region.code, region.county_code, region.township_code,
                                      *(p["village_code"] for p in people)])
    rows = []
    for p in people:
        owed = _owed(p, as_of)
        if owed["owed_basis"] == "on_time" and owed["owed_person_fen"] == 0:
            continue  # nothing of their own to pay: a government part still unpaid is the
            # budget line's, on the funding application, not a person to remind
        situation = p["situation"]
        rows.append({
            "no": len(rows) + 1, "person_id": str(p["person_id"]),
            **_contacts(p, vault, contacts),
            "id_number": mask_id_number(p["id_number_masked"]), "village_code": p["village_code"],
            "village_name": names[p["village_code"] or ""],
            "situation": situation, "situation_name": SITUATIONS[situation], **owed,
            "reason": p["reason"], "reason_name": REASONS.get(p["reason"] or "", ""),
            "note": p["note"],
            "recorded_at": p["recorded_at"].isoformat() if p["recorded_at"] else None,
        })
    return {
        "region_code": region.code, "region_name": _where(names, region),
        "village_code": region.village_code,
        "village_name": names[region.village_code] if region.village_code else None,
        "plan_year": plan_year, "as_of": as_of.isoformat(), "count": len(rows),
        "without_reason": sum(1 for r in rows if not r["reason"]),
        "owed_fen": sum(r["owed_fen"] or 0 for r in rows),
        "phones": "in full" if contacts else "masked",
        "contacts": "in full" if contacts else "masked",
        "rows": rows,
    }


def reminder_table(data: dict[str, Any]) -> Table:
    """The list as printed: 户号 and 地址 only for the staff who see contact details."""
    contacts = data["contacts"] == "in full"
    columns = [("no", "序号"), ("village_name", "村（社区）"),
               *([("household_no", "户号")] if contacts else []),
               ("name", "姓名"), ("id_number", "身份证号码"),
               *([("address", "地址")] if contacts else []),
               ("phone", "联系电话"), ("situation_name", "情况"),
               ("owed_yuan", "应缴金额（元）"), ("reason_name", "未缴费原因"), ("note", "备注")]
    return Table(
        title=f"{data['plan_year']}年度城乡居民医保未缴费人员提醒名单",
        subtitle=f"{data['region_name']}　共{data['count']}人　截至 {data['as_of']}",
        columns=columns, rows=data["rows"],
    )


async def record_reason(session: AsyncSession, person_id: str, plan_year: int, reason: str,
                        note: str | None, recorded_by: str | None) -> dict[str, Any]:
    if reason not in REASONS:
        raise Invalid(f"unknown reason {reason!r}; one of {', '.join(REASONS)}", field="reason",
                      key="unknown_reason", params={"reason": reason, "choices": list(REASONS)})
    note = (note or "").strip() or None
    if reason == "other" and not note:
        raise Invalid("reason 'other' needs a note saying why", field="note",
                      code="note_required")
    if not await repo.person_known(session, person_id):
        raise NotFound(f"person {person_id} is not known to reporting", code="person_not_found")
    saved = await repo.save_reason(session, person_id, plan_year, reason, note, recorded_by)
    return {**saved, "person_id": str(saved["person_id"]),
            "reason_name": REASONS[reason], "recorded_at": saved["recorded_at"].isoformat()}


async def funding_application(session: AsyncSession, region: Region, plan_year: int,
                              budget_line: str | None, *, include_persons: bool,
                              as_of: dt.date | None = None,
                              plans: PolicyCatalog | None = None) -> dict[str, Any]:
    """Per budget line, the people it subsidises and how many of them it has paid for (a line
    counts as paid once its budget line's proxy payment covers it)."""
    if budget_line is not None and budget_line not in BUDGET_LINES:
        raise Invalid(f"未知的资金渠道 {budget_line!r}", field="budget_line",
                      key="unknown_budget_line", params={"budget_line": budget_line})
    as_of = as_of or today_in_china()
    plan = plan_for(region.code[:6], plan_year, plans) if region.rank != "nation" else None
    people = (await repo.subsidized_people(session, region, plan_year, budget_line)
              if include_persons or region.rank == "village" else None)
    if region.rank == "village":
        counters = _count_lines(people or [])
    else:
        counters = await repo.funding_counters(session, region, plan_year, budget_line)
    final_date = plan.final_list_date if plan else None
    missed = None
    if final_date is not None and as_of > final_date:
        missed = await repo.subsidized_people(session, region, plan_year, budget_line,
                                              unpaid_only=True)
    names = await names_for(session, [
        region.code, region.county_code, *(c["township_code"] for c in counters),
        *(p[k] for p in (people or []) + (missed or []) for k in ("township_code",
                                                                  "village_code"))])
    def named(rule_id: str) -> str:
        return plan.rule_name(rule_id) if plan else rule_id

    summary = [{
        **c, "township_name": names[c["township_code"]], "rule_name": named(c["rule_id"]),
        "budget_line_name": BUDGET_LINES.get(c["budget_line"], c["budget_line"]),
        "amount_yuan": fen_to_yuan(c["amount_fen"]), "list": list_title(c["budget_line"]),
    } for c in counters]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in counters:
        totals[c["budget_line"]]["headcount"] += c["headcount"]
        totals[c["budget_line"]]["amount_fen"] += c["amount_fen"]
        totals[c["budget_line"]]["paid_headcount"] += c["paid_headcount"]
    county = region.county_code or region.code
    out: dict[str, Any] = {
        "region_code": region.code, "region_name": names[region.code],
        "county_code": county, "county_name": names[county],
        "plan_year": plan_year, "budget_line": budget_line, "as_of": as_of.isoformat(),
        "final_list_date": final_date.isoformat() if final_date else None,
        "by_budget_line": [{"budget_line": b, "budget_line_name": BUDGET_LINES.get(b, b),
                            "list": list_title(b), **v, "amount_yuan": fen_to_yuan(v["amount_fen"])}
                           for b, v in sorted(totals.items())],
        "summary": summary,
        "missed_payments": _person_rows(missed, names, named) if missed is not None else None,
    }
    if include_persons:
        out["persons"] = _person_rows(people or [], names, named)
    return out


def _count_lines(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"headcount": 0, "amount_fen": 0, "paid_headcount": 0})
    for p in people:
        c = counts[(p["budget_line"], p["township_code"], p["rule_id"])]
        c["headcount"] += 1
        c["amount_fen"] += p["amount_fen"]
        c["paid_headcount"] += 1 if p["paid"] else 0
    return [{"township_code": t, "budget_line": b, "rule_id": r, **v}
            for (b, t, r), v in sorted(counts.items())]


def _person_rows(people: list[dict[str, Any]], names: Names,
                 named: Callable[[str], str] = str) -> list[dict[str, Any]]:
    return [{
        "no": i, "person_id": str(p["person_id"]), "township_code": p["township_code"],
        "township_name": names[p["township_code"]], "village_code": p["village_code"],
        "village_name": names[p["village_code"] or ""],
        "name": p["name_masked"], "id_number": mask_id_number(p["id_number_masked"]),
        "budget_line": p["budget_line"],
        "budget_line_name": BUDGET_LINES.get(p["budget_line"], p["budget_line"]),
        "list": list_title(p["budget_line"]), "rule_id": p["rule_id"],
        "rule_name": named(p["rule_id"]), "amount_fen": p["amount_fen"],
        "amount_yuan": fen_to_yuan(p["amount_fen"]),
        "paid_fen": p["paid_fen"], "paid": bool(p["paid"]),
        "paid_on": p["paid_on"].isoformat() if p["paid"] and p["paid_on"] else None,
    } for i, p in enumerate(people, start=1)]


def _numbered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows numbered from 1 (序号 counts within its own table)."""
    return [{**row, "no": i} for i, row in enumerate(rows, start=1)]


def funding_tables(data: dict[str, Any], *, csv: bool = False) -> list[Table]:
    """The summary, then (with include_persons) one name list per 名单, then the missed
    payments; each list numbered from 1. For a CSV, one table: every person (with a 名单
    column) when persons were asked for, else the summary."""
    head = f"{data['region_name']} {data['plan_year']}年度"
    person_columns = [("no", "序号"), ("township_name", "镇（街道）"),
                      ("village_name", "村（社区）"), ("name", "姓名"),
                      ("id_number", "身份证号码"), ("rule_name", "资助类别"),
                      ("budget_line_name", "资金渠道"), ("amount_yuan", "资助金额（元）")]
    if csv and data.get("persons") is not None:
        return [Table(title=f"{head}政府资助参保人员名单", columns=[
            ("list", "名单"), *person_columns, ("paid_on", "代缴日期")],
            rows=_numbered(data["persons"]))]
    tables = [Table(
        title=f"{head}政府资助参保资金申请汇总表",
        subtitle=f"截至 {data['as_of']}",
        columns=[("budget_line_name", "资金渠道"), ("township_name", "镇（街道）"),
                 ("rule_name", "资助类别"), ("headcount", "人数"),
                 ("amount_yuan", "资助金额（元）"), ("paid_headcount", "已代缴人数")],
        rows=data["summary"],
    )]
    if csv:
        return tables
    by_list: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in data.get("persons") or []:
        by_list[row["list"]].append(row)
    for title, rows in sorted(by_list.items()):
        tables.append(Table(title=f"{head}{title}", subtitle=f"共{len(rows)}人",
                            columns=person_columns, rows=_numbered(rows)))
    if data["missed_payments"] is not None:
        tables.append(Table(
            title=f"{head}政府资助人员漏缴名单",
            subtitle=f"最终名单日期 {data['final_list_date']} 后仍未代缴",
            columns=person_columns, rows=_numbered(data["missed_payments"])))
    return tables
