"""What a person owes if they pay today (Beijing date) or on a given day, for a channel about to
take the money.

The amounts, the surcharge, the coverage start and the timing (on time or late) come from the
engine's owed_on (through services.payments.coverage), as matching checks the money against it
when it arrives. After the plan year's last payment day the bill answers 409 plan_year_closed.

The answer carries the order to pay against. There is at most one open or paid order per
person and year (a partial unique index), so two channels can never both charge a person for
the same year. An order is issued only when none is live, under a share lock on the
determination so that a concurrent change cannot leave a stale order; an open order asks what
is owed today (it is repriced when the day moved the person from the on-time to the late
amount).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.payments.bills.repository import BillRepository
from services.payments.channels._support import CHINA_TZ
from services.payments.coverage import (
    CLOSED,
    CoverageCalculator,
    CoverageDecision,
    DueFacts,
    enrollment_history,
)
from services.payments.orders.repository import new_order_no
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.i18n import Text
from shared.idnumber import InvalidIdNumber, mask_id_number, parse_id_number
from shared.money import fen_to_yuan
from shared.pii import PiiVault


@dataclass(frozen=True)
class Bill:
    status: str  # due | paid | subsidized | nothing_due | not_enrolled
    body: dict[str, Any]

    def json(self) -> bytes:
        return orjson.dumps(self.body)


def beijing_today() -> dt.date:
    return dt.datetime.now(CHINA_TZ).date()


class BillService:
    def __init__(self, pool: asyncpg.Pool, vault: PiiVault,
                 coverage: CoverageCalculator | None = None) -> None:
        self.pool = pool
        self.vault = vault
        self.coverage = coverage or CoverageCalculator(None)

    async def lookup(self, id_number: str, plan_year: int,
                     principal: Principal | None = None, on: dt.date | None = None) -> Bill:
        """What is owed if paid on `on` (default: today in Beijing). `principal`: the caller;
        staff limited to a region find only the people registered in it (anyone else is
        answered as not registered, and no order is issued)."""
        try:
            ident = parse_id_number(id_number)
        except InvalidIdNumber as exc:
            raise Invalid(f"id_number: {exc}", field="id_number",
                          code="invalid_id_number", params={"reason": exc.text}) from None
        today = beijing_today()
        day = on or today
        # every key version's hash: people are found while `canbao pii rotate` runs
        id_hash = self.vault.lookup_hashes(ident.value)
        async with self.pool.acquire() as conn:
            repo = BillRepository(conn)
            row = await repo.find(id_hash, plan_year)
            if row is None or not _visible(principal, row):
                raise NotFound("no person with this ID number is registered",
                               code="person_not_found")
            if row["revision"] is None or not row["enrolled"] or row["status"] == "paid":
                return _bill(row, plan_year, None, day, self._plan_missing(row, plan_year))
            decision = await self._decide(repo, row, plan_year, day)
            owed = decision.owed
            if owed is not None and owed.timing == CLOSED:
                raise Conflict(owed.explanation, code="plan_year_closed",
                               details={"payable_until": owed.basis.get("payable_until")},
                               params={"reason": Text(owed.explanation,
                                                      owed.explanation_en or owed.explanation)})
            amount = owed.personal_fen if owed is not None else row["personal_fen"]
            if amount > 0 and (row["order_no"] is None
                               or (day == today and row["amount_fen"] != amount)):
                row = await repo.issue_or_reprice(id_hash, row, plan_year, amount,
                                                  new_order_no(plan_year))
        return _bill(row, plan_year, decision, day)

    def _plan_missing(self, row: asyncpg.Record, plan_year: int) -> bool:
        """No plan for the person's county (or its city or province) and year is held, so
        nobody there was determined: a missing determination then says nothing about them."""
        region = row["county_code"] or row["township_code"] or row["village_code"]
        return (row["revision"] is None and region is not None
                and self.coverage.catalog is not None
                and self.coverage.policy(region[:6], plan_year) is None)

    async def _decide(self, repo: BillRepository, row: asyncpg.Record, plan_year: int,
                      day: dt.date) -> CoverageDecision:
        """What paying on `day` owes and buys (the person's earlier years read only when the
        plan's waiting period depends on them; shared dues' decisions are kept by the
        calculator)."""
        due = DueFacts(
            region_code=row["region_code"], plan_year=plan_year,
            insured_category=row["insured_category"], coverage_start=row["coverage_start"],
            subsidized=bool(row["subsidies"]), birth_date=None,
            standard_fen=row["standard_fen"], personal_fen=row["personal_fen"],
            surcharge_fen=row["surcharge_fen"], subsidies=tuple(row["subsidies"] or ()),
            on_time_until=row["on_time_until"], payable_until=row["payable_until"],
            late=row["late"], has_terms=row["on_time_until"] is not None)
        history = None
        if self.coverage.needs_history(due, day):
            prior = await repo.prior_years(row["person_id"], plan_year)
            first = await repo.first_plan_year(due.region_code)
            ends = self.coverage.plan_ends(due.region_code, sorted(prior))
            history = enrollment_history(plan_year, due.region_code, prior, first, ends)
        return self.coverage.decide(due, day, history)


def _visible(principal: Principal | None, row: asyncpg.Record) -> bool:
    if principal is None or principal.sees_all_regions:
        return True
    region = row["village_code"] or row["township_code"] or row["county_code"]
    return region is not None and principal.can_see_region(region)


def _bill(row: asyncpg.Record, plan_year: int, decision: CoverageDecision | None,
          day: dt.date, plan_missing: bool = False) -> Bill:
    body: dict[str, Any] = {
        "plan_year": plan_year,
        "name_masked": row["name_masked"],
        "id_number_masked": mask_id_number(row["id_number_masked"]),
        "county_code": row["county_code"], "township_code": row["township_code"],
        "village_code": row["village_code"],
    }
    if row["revision"] is None or not row["enrolled"]:
        if plan_missing:
            reason = f"本地区 {plan_year} 年度的参保缴费方案尚未发布：暂无此人的参保认定，不能缴费"
        elif row["revision"] is None:
            reason = "本年度没有此人的参保认定：尚未登记参加本年度参保，或登记尚在认定中"
        else:
            reason = "本年度参保登记已停止或终止"
        return Bill("not_enrolled", {"status": "not_enrolled", **body, "amount_fen": 0,
                                     "reason": reason})
    if row["status"] == "paid":
        return Bill("paid", {"status": "paid", **body, "standard_fen": row["standard_fen"],
                             "subsidies": row["subsidies"] or [], "amount_fen": 0,
                             "order_no": row["order_no"], "paid_fen": row["amount_fen"],
                             "paid_at": _iso(row["paid_at"]), "timing": row["timing"],
                             "coverage_start": _iso(row["paid_coverage_start"]),
                             "reason": "本年度已缴费"})
    assert decision is not None
    owed = decision.owed
    subsidies = ([{"rule_id": s.rule_id, "funding_source": s.funding_source,
                   "amount_fen": s.amount_fen} for s in owed.subsidies]
                 if owed is not None else row["subsidies"] or [])
    amount = owed.personal_fen if owed is not None else row["personal_fen"]
    body.update(
        on=day.isoformat(), standard_fen=row["standard_fen"], subsidies=subsidies,
        surcharge_fen=owed.surcharge_fen if owed is not None else row["surcharge_fen"],
        timing=decision.timing, coverage_start=_iso(decision.start),
        on_time_until=_iso(row["on_time_until"]) or decision.basis.get("on_time_until"),
        payable_until=_iso(row["payable_until"]) or decision.basis.get("payable_until"),
        explanation=decision.basis.get("explanation"),
        assumptions=decision.basis.get("assumptions", []))
    if amount == 0:
        status = "subsidized" if subsidies else "nothing_due"
        reason = "个人缴费部分由政府全额资助，本人无需缴费" if subsidies else "本年度无需缴费"
        return Bill(status, {"status": status, **body, "amount_fen": 0, "reason": reason})
    return Bill("due", {"status": "due", **body, "amount_fen": amount,
                        "amount_yuan": fen_to_yuan(amount), "order_no": row["order_no"]})


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
