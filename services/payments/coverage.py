"""What a payment owes and buys, decided by the payment date through the engine's `owed_on`.

The due (eligibility's determination) carries both outcomes: paid on time (up to
`on_time_until`: the amounts and the coverage start eligibility determined) and paid late
(`late`: the person's part, surcharge and subsidy lines of a late payment; coverage after the
plan's waiting period, counted from the payment). After `payable_until` (or when a longer
waiting period would end after the plan year) the year takes no payment: timing `closed`.
The bill, matching and proxy batches all ask `CoverageCalculator.decide`, which calls
`owed_on`, as the eligibility preview does. A due published before determinations carried their
late outcome gets one derived from the plan's late rules, and the answer says so.

Under the national rules from 2025 the waiting period grows with the years of broken enrollment
and shrinks with the years paid back.
Payments counts those years from what it holds itself (`EnrollmentHistory`): its determinations
(dues) and paid orders of the person's earlier plan years. Going back from the year before the
plan year, each year is

- `unpaid`     the person owed a contribution and no order of that year was paid: broken;
- `paid_back`  an order of that year was paid only after that year's coverage ended (补缴,
               缴费修复): broken, but it counts as paid back;
- `paid`       paid by the end of that plan year: continuous, counting stops;
- `nothing_due` the person owed nothing (the government paid in full, or exempt): continuous;
- `not_enrolled` the enrollment was stopped or ended (employee scheme, insured elsewhere,
               moved away, ...): assumed insured elsewhere, continuous;
- `unknown`    no determination of the person for that year (before the first plan year payments
               holds for the region, a year the system did not run there, or the person was not
               in the registers): ASSUMED CONTINUOUS, counting stops.

The decision and its reasons are returned as a JSON-able `basis` that is recorded with the
payment (ledger entry and order).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kernels.policy import (
    CLOSED,
    LATE,
    ON_TIME,
    EligibilityError,
    Outcome,
    Owed,
    PolicyCatalog,
    Terms,
    owed_on,
)
from kernels.policy.coverage import last_payable_day
from kernels.policy.policy import Policy
from services.payments.channels._support import CHINA_TZ
from shared.money import fen_to_yuan
from shared.plan_copies import PlanCopies

log = logging.getLogger(__name__)

BROKEN = frozenset({"unpaid", "paid_back"})

ASSUME_UNKNOWN = ("没有此人确定结果的年度（早于缴费服务掌握的本地区首个方案年度，或当年不在"
                  "登记名册中）情况不明，按连续参保计算")
ASSUME_NOT_ENROLLED = ("参保登记已停止或终止的年度（参加职工医保、在外地参保、迁出）按连续参保计算")
ASSUME_NOTHING_DUE = ("本人无需缴费的年度（政府全额资助或免缴）按连续参保计算")
ASSUME_BACK_PAYMENT = ("缴费修复是在该年度待遇期结束后才缴清的往年订单：该年度仍算断缴，"
                       "同时计为已补缴年度")
ASSUME_LEGACY_TERMS = ("这项确定结果发布时尚无逾期缴费的金额：按方案的逾期规定"
                       "（资助是否取消、是否加收）由按时缴费的金额推算")
ASSUME_AS_OF_PAYMENT = ("参保历史以这笔缴费入账时缴费服务掌握的为准；此后的补缴不改变这笔缴费的"
                        "待遇起始日")


@dataclass(frozen=True)
class DueFacts:
    """What payments holds of a person's determination for a plan year (the due): the on-time
    outcome, and, when eligibility sent them, the late one and the days between."""

    region_code: str
    plan_year: int
    insured_category: str | None
    coverage_start: dt.date | None
    subsidized: bool
    birth_date: dt.date | None
    standard_fen: int = 0
    personal_fen: int = 0
    surcharge_fen: int = 0
    subsidies: tuple[dict[str, Any], ...] = ()
    on_time_until: dt.date | None = None
    payable_until: dt.date | None = None
    late: dict[str, Any] | None = None
    has_terms: bool = False  # False: a determination published before both outcomes were


@dataclass(frozen=True)
class PriorYear:
    """What payments holds about the person in an earlier plan year."""

    plan_year: int
    enrolled: bool
    personal_fen: int
    paid_at: dt.datetime | None  # the paid order of that year, if any


@dataclass(frozen=True)
class YearRecord:
    plan_year: int
    status: str  # unpaid | paid_back | paid | nothing_due | not_enrolled | unknown
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"plan_year": self.plan_year, "status": self.status, "note": self.note}


@dataclass(frozen=True)
class EnrollmentHistory:
    """The person's earlier plan years, newest first, down to the first that is not broken."""

    years: tuple[YearRecord, ...]
    first_known_year: int | None  # the first plan year payments holds for the region

    @property
    def broken_years(self) -> int:
        return sum(1 for y in self.years if y.status in BROKEN)

    @property
    def paid_back_years(self) -> int:
        return sum(1 for y in self.years if y.status == "paid_back")

    @property
    def assumptions(self) -> list[str]:
        found = {y.status for y in self.years}
        out = []
        if "unknown" in found:
            out.append(ASSUME_UNKNOWN)
        if "not_enrolled" in found:
            out.append(ASSUME_NOT_ENROLLED)
        if "nothing_due" in found:
            out.append(ASSUME_NOTHING_DUE)
        return out


def paid_on(moment: dt.datetime) -> dt.date:
    """The payment's calendar day where the collection campaign runs (Beijing time)."""
    return moment.astimezone(CHINA_TZ).date()


def enrollment_history(
    plan_year: int, region_code: str, prior: dict[int, PriorYear], first_known_year: int | None,
    plan_end: dict[int, dt.date] | None = None,
) -> EnrollmentHistory:
    """Classify the years before `plan_year`, newest first, until one is not broken.

    `plan_end` gives an earlier plan year's last day of coverage (31 December if not given).
    """
    ends = plan_end or {}
    years: list[YearRecord] = []
    year = plan_year - 1
    while True:
        record = prior.get(year)
        if first_known_year is None or year < first_known_year:
            first = (f"缴费服务掌握的地区 {region_code} 首个方案年度为 {first_known_year}"
                     if first_known_year is not None
                     else f"缴费服务没有地区 {region_code} 更早的方案年度")
            years.append(YearRecord(year, "unknown", f"{first}：按连续参保计算"))
            break
        if record is None:
            years.append(YearRecord(year, "unknown",
                                    f"没有此人 {year} 年度的确定结果：按连续参保计算"))
            break
        if not record.enrolled:
            years.append(YearRecord(year, "not_enrolled", "参保登记已停止或终止：视为在别处"
                                    "参保，按连续参保计算"))
            break
        if record.paid_at is not None:
            day = paid_on(record.paid_at)
            end = ends.get(year, dt.date(year, 12, 31))
            if day > end:
                years.append(YearRecord(year, "paid_back", f"{day.isoformat()} 缴费，晚于该年度"
                                        f"待遇期结束日（{end.isoformat()}）"))
                year -= 1
                continue
            years.append(YearRecord(year, "paid", f"{day.isoformat()} 缴费"))
            break
        if record.personal_fen <= 0:
            years.append(YearRecord(year, "nothing_due", "本人无需缴费"))
            break
        years.append(YearRecord(year, "unpaid",
                                f"应缴 {fen_to_yuan(record.personal_fen)} 元，未缴费"))
        year -= 1
    return EnrollmentHistory(tuple(years), first_known_year)


@dataclass(frozen=True)
class CoverageDecision:
    start: dt.date | None
    basis: dict[str, Any] = field(default_factory=dict)
    owed: Owed | None = None

    @property
    def timing(self) -> str | None:
        return self.owed.timing if self.owed is not None else None


def _outcome(data: dict[str, Any], standard_fen: int) -> Outcome:
    return Outcome.from_dict(data, standard_fen)


def on_time_outcome(due: DueFacts) -> Outcome:
    return _outcome({"insured_category": due.insured_category, "personal_fen": due.personal_fen,
                     "surcharge_fen": due.surcharge_fen, "subsidies": list(due.subsidies)},
                    due.standard_fen)


def terms_of(due: DueFacts, policy: Policy) -> tuple[Terms, list[str]]:
    """The due as the engine's Terms, and the assumptions made to get them (a determination
    published before it carried its late outcome: derived from the plan's late rules)."""
    on_time = on_time_outcome(due)
    start = due.coverage_start or policy.plan_start
    if due.has_terms and due.on_time_until is not None and due.payable_until is not None:
        late = _outcome(due.late, due.standard_fen) if due.late is not None else None
        return Terms(on_time, start, due.on_time_until, due.payable_until, late), []
    lp = policy.late_payment
    ext = policy.subsidized_until
    until = policy.in_period_until
    if due.subsidized and ext is not None and ext > until:
        until = ext
    subsidies = () if lp.subsidies_forfeited else on_time.subsidies
    surcharge = policy.fiscal_subsidy_fen if lp.surcharge == "fiscal_subsidy" else 0
    late = Outcome(on_time.insured_category, due.standard_fen,
                   due.standard_fen + surcharge - sum(s.amount_fen for s in subsidies),
                   surcharge, subsidies)
    return Terms(on_time, start, until, last_payable_day(policy, until), late), \
        [ASSUME_LEGACY_TERMS]


DECISIONS = 4096  # decisions kept for shared dues (cleared when full)


class CoverageCalculator:
    """Asks the engine's owed_on what a payment on a given day owes and buys.

    Most people of a plan share their due (an adult of a county, a student, a subsidized
    group): the decision for the same due, day and plan version is made once and kept (at most
    DECISIONS), unless it rests on the person's earlier years (`history`). Bill lookups and
    matching both ask here."""

    def __init__(self, plans: PolicyCatalog | PlanCopies | None) -> None:
        """`plans`: the plans payments holds (from eligibility.plan.v1 events), or a fixed
        catalog (unit tests)."""
        self.plans = plans
        self._decisions: dict[tuple[Any, ...], CoverageDecision] = {}

    @property
    def catalog(self) -> PolicyCatalog | None:
        plans = self.plans
        return plans.catalog if isinstance(plans, PlanCopies) else plans

    def policy(self, region_code: str, plan_year: int) -> Policy | None:
        catalog = self.catalog
        if catalog is None:
            return None
        try:
            return catalog.find(region_code, plan_year)  # its own, else its city's plan
        except EligibilityError:
            return None

    def plan_ends(self, region_code: str, years: Iterable[int]) -> dict[int, dt.date]:
        out = {}
        for year in years:
            policy = self.policy(region_code, year)
            if policy is not None:
                out[year] = policy.plan_end
        return out

    def needs_history(self, due: DueFacts, paid_at: dt.datetime | dt.date) -> bool:
        """Whether this payment's coverage start depends on the person's earlier years: a late
        payment under a plan whose waiting period grows with broken enrollment."""
        policy = self.policy(due.region_code, due.plan_year)
        if policy is None or policy.late_payment.waiting.per_further_broken_year == 0:
            return False
        day = paid_at if not isinstance(paid_at, dt.datetime) else paid_on(paid_at)
        terms, _ = terms_of(due, policy)
        return terms.late is not None and terms.on_time_until < day <= terms.payable_until

    def start(self, due: DueFacts, paid_at: dt.datetime) -> dt.date | None:
        return self.decide(due, paid_at).start

    def decide(self, due: DueFacts, paid_at: dt.datetime | dt.date,
               history: EnrollmentHistory | None = None) -> CoverageDecision:
        """What a payment made at `paid_at` (a moment, or a day in Beijing) owes and buys."""
        day = paid_at if not isinstance(paid_at, dt.datetime) else paid_on(paid_at)
        policy = self.policy(due.region_code, due.plan_year)
        if policy is not None and history is None:
            key = _decision_key(policy, due, day)
            found = self._decisions.get(key)
            if found is None:
                found = self._decide(due, day, policy, None)
                if len(self._decisions) >= DECISIONS:
                    self._decisions.clear()
                self._decisions[key] = found
            return found
        return self._decide(due, day, policy, history)

    def _decide(self, due: DueFacts, day: dt.date, policy: Policy | None,
                history: EnrollmentHistory | None) -> CoverageDecision:
        if policy is None:
            log.warning("no plan for %s/%s: the determination's on-time outcome is used",
                        due.region_code, due.plan_year)
            out = on_time_outcome(due)
            text = (f"未找到 {due.region_code} 地区 {due.plan_year} 年度的方案："
                    "按确定结果的按时缴费金额和待遇起始日")
            owed = Owed(ON_TIME, day, out, due.coverage_start, text, [],
                        {"paid_on": day.isoformat(), "timing": ON_TIME, "no_plan": True,
                         "coverage_start": due.coverage_start.isoformat()
                         if due.coverage_start else None})
            return _decision(owed, due)
        terms, assumed = terms_of(due, policy)
        owed = owed_on(terms, policy, day, history)
        if assumed:
            owed.assumptions[:0] = assumed
        if history is not None and owed.timing == LATE:
            owed.basis["history"] = [y.to_dict() for y in history.years]
            owed.basis["first_known_year"] = history.first_known_year
            if any(y.status == "paid_back" for y in history.years):
                owed.assumptions.append(ASSUME_BACK_PAYMENT)
            owed.assumptions.append(ASSUME_AS_OF_PAYMENT)
        return _decision(owed, due)


def _decision_key(policy: Policy, due: DueFacts, day: dt.date) -> tuple[Any, ...]:
    """Everything a decision without history reads: the plan's version, the day and the due
    (its birth date is not read: the determination's category already carries the age)."""
    return (policy.version, day, due.region_code, due.plan_year, due.insured_category,
            due.coverage_start, due.subsidized, due.standard_fen, due.personal_fen,
            due.surcharge_fen, orjson.dumps(due.subsidies), due.on_time_until,
            due.payable_until, orjson.dumps(due.late), due.has_terms)


def _decision(owed: Owed, due: DueFacts) -> CoverageDecision:
    basis = {**owed.basis, "plan_year": due.plan_year, "region_code": due.region_code,
             "personal_fen": owed.personal_fen, "surcharge_fen": owed.surcharge_fen,
             "explanation": owed.explanation, "assumptions": list(owed.assumptions)}
    return CoverageDecision(owed.coverage_start, basis, owed)


__all__ = ["CLOSED", "LATE", "ON_TIME", "CoverageCalculator", "CoverageDecision", "DueFacts",
           "EnrollmentHistory", "Owed", "PriorYear", "YearRecord", "enrollment_history",
           "paid_on", "terms_of"]
