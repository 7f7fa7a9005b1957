"""When coverage starts for a payment: the payment date decides, through the plan's rules.

Paid within the collection period (or, for subsidized people, its extension): the coverage start
eligibility carried in the determination (the plan year's start). Paid later: the plan's waiting
period (services/eligibility/engine/coverage.py `late_coverage_start`), which under the national
rules from 2025 grows with the years of broken enrollment and shrinks with the years paid back.

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

from services.eligibility.engine import EligibilityError, PolicyCatalog
from services.eligibility.engine.coverage import late_coverage_start, payment_timing
from services.eligibility.engine.policy import Policy
from services.payments.channels._support import CHINA_TZ

log = logging.getLogger(__name__)

BROKEN = frozenset({"unpaid", "paid_back"})

ASSUME_UNKNOWN = ("a year without a determination of the person (before the first plan year "
                  "payments holds for the region, or not in the registers that year) is unknown "
                  "and counted as continuous enrollment")
ASSUME_NOT_ENROLLED = ("a year whose enrollment was stopped or ended (employee scheme, insured "
                       "elsewhere, moved away) counts as continuous enrollment")
ASSUME_NOTHING_DUE = ("a year in which the person owed nothing (the government paid in full, or "
                      "exempt) counts as continuous enrollment")
ASSUME_BACK_PAYMENT = ("a back payment (缴费修复) is an order of an earlier plan year paid after "
                       "that year's coverage ended; it still counts as a broken year, and as a "
                       "year paid back")
ASSUME_AS_OF_PAYMENT = ("the history is the one payments holds when this payment is applied; a "
                        "later back payment does not move this coverage start")


@dataclass(frozen=True)
class DueFacts:
    region_code: str
    plan_year: int
    insured_category: str | None
    coverage_start: dt.date | None
    subsidized: bool
    birth_date: dt.date | None


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
            first = (f"the first plan year payments holds for region {region_code} is "
                     f"{first_known_year}" if first_known_year is not None
                     else f"payments holds no earlier plan year for region {region_code}")
            years.append(YearRecord(year, "unknown", f"{first}: assumed continuous"))
            break
        if record is None:
            years.append(YearRecord(year, "unknown", "no determination of the person for "
                                    f"{year}: assumed continuous"))
            break
        if not record.enrolled:
            years.append(YearRecord(year, "not_enrolled", "enrollment stopped or ended: "
                                    "assumed insured elsewhere, continuous"))
            break
        if record.paid_at is not None:
            day = paid_on(record.paid_at)
            end = ends.get(year, dt.date(year, 12, 31))
            if day > end:
                years.append(YearRecord(year, "paid_back", f"paid {day.isoformat()}, after the "
                                        f"year's coverage ended ({end.isoformat()})"))
                year -= 1
                continue
            years.append(YearRecord(year, "paid", f"paid {day.isoformat()}"))
            break
        if record.personal_fen <= 0:
            years.append(YearRecord(year, "nothing_due", "nothing for the person to pay"))
            break
        years.append(YearRecord(year, "unpaid", f"owed {record.personal_fen} fen, never paid"))
        year -= 1
    return EnrollmentHistory(tuple(years), first_known_year)


@dataclass(frozen=True)
class CoverageDecision:
    start: dt.date | None
    basis: dict[str, Any] = field(default_factory=dict)


class CoverageCalculator:
    def __init__(self, catalog: PolicyCatalog | None) -> None:
        self.catalog = catalog

    def policy(self, region_code: str, plan_year: int) -> Policy | None:
        if self.catalog is None:
            return None
        try:
            return self.catalog.find(region_code, plan_year)  # its own, else its city's plan
        except EligibilityError:
            return None

    def plan_ends(self, region_code: str, years: Iterable[int]) -> dict[int, dt.date]:
        out = {}
        for year in years:
            policy = self.policy(region_code, year)
            if policy is not None:
                out[year] = policy.plan_end
        return out

    def needs_history(self, due: DueFacts, paid_at: dt.datetime) -> bool:
        """Whether this payment's coverage start depends on the person's earlier years: a late
        payment under a plan whose waiting period grows with broken enrollment."""
        policy = self.policy(due.region_code, due.plan_year)
        if policy is None:
            return False
        day = paid_on(paid_at)
        if day > policy.plan_end:
            return False
        timing = payment_timing(policy, day)
        if timing.in_period or (timing.in_extension and due.subsidized):
            return False
        return policy.late_payment.waiting.per_further_broken_year > 0

    def start(self, due: DueFacts, paid_at: dt.datetime) -> dt.date | None:
        return self.decide(due, paid_at).start

    def decide(self, due: DueFacts, paid_at: dt.datetime,
               history: EnrollmentHistory | None = None) -> CoverageDecision:
        day = paid_on(paid_at)
        basis: dict[str, Any] = {"paid_on": day.isoformat(), "plan_year": due.plan_year,
                                 "region_code": due.region_code}
        policy = self.policy(due.region_code, due.plan_year)
        if policy is None:
            log.warning("no plan for %s/%s: coverage start taken from the determination",
                        due.region_code, due.plan_year)
            return _decided(due.coverage_start, basis, "no_plan",
                            f"no plan file for {due.region_code}/{due.plan_year}: the coverage "
                            "start of the determination")
        basis["policy_version"] = policy.version
        if day > policy.plan_end:
            return _decided(None, basis, "after_plan_year",
                            f"paid {day.isoformat()}, after the plan year's coverage ended "
                            f"({policy.plan_end.isoformat()}): a back payment, no benefits for "
                            "that year", assumptions=[ASSUME_BACK_PAYMENT])
        timing = payment_timing(policy, day)
        if timing.in_period:
            start = due.coverage_start or policy.plan_start
            return _decided(start, basis, "in_period",
                            f"paid {day.isoformat()}, within the collection period (to "
                            f"{policy.in_period_until.isoformat()}): covered from "
                            f"{start.isoformat()}")
        if timing.in_extension and due.subsidized:
            start = due.coverage_start or policy.plan_start
            return _decided(start, basis, "in_extension",
                            f"paid {day.isoformat()}, within the extension for subsidized "
                            f"people (to {policy.subsidized_until}): covered from "
                            f"{start.isoformat()}")
        return self._late(policy, day, basis, history)

    def _late(self, policy: Policy, day: dt.date, basis: dict[str, Any],
              history: EnrollmentHistory | None) -> CoverageDecision:
        lp = policy.late_payment
        w = lp.waiting
        assumptions: list[str] = [a.statement for a in policy.model.assumptions
                                  if a.id in set(lp.assumptions)]
        basis["waiting"] = {"unit": w.unit, "count_from": w.count_from, "fixed": w.fixed,
                            "per_further_broken_year": w.per_further_broken_year,
                            "reduced_per_paid_back_year": w.reduced_per_paid_back_year,
                            "max_total": w.max_total}
        broken = paid_back = 0
        history_note = ""
        if w.per_further_broken_year == 0:
            history_note = "this plan's waiting period does not depend on earlier years"
        elif history is None:
            history_note = ("earlier years not consulted: counted as continuous enrollment")
            assumptions.append("enrollment history not consulted for this payment (government "
                               "proxy payment): no broken years")
        else:
            broken, paid_back = history.broken_years, history.paid_back_years
            basis["history"] = [y.to_dict() for y in history.years]
            basis["first_known_year"] = history.first_known_year
            assumptions += history.assumptions
            if any(y.status == "paid_back" for y in history.years):
                assumptions.append(ASSUME_BACK_PAYMENT)
            if w.reduced_per_paid_back_year == 0 and paid_back:
                assumptions.append("this plan does not shorten the waiting period for years "
                                   "paid back")
            assumptions.append(ASSUME_AS_OF_PAYMENT)
            history_note = "; ".join(f"{y.plan_year} {y.status}" for y in history.years)
        basis["broken_years"], basis["paid_back_years"] = broken, paid_back
        start, why = late_coverage_start(policy, day, broken, paid_back)
        text = (f"paid {day.isoformat()}, after the collection period (to "
                f"{policy.in_period_until.isoformat()}); {why}; covered from {start.isoformat()}"
                f"; {broken} broken year(s), {paid_back} paid back")
        if history_note:
            text += f" ({history_note})"
        return _decided(start, basis, "late", text, assumptions=assumptions)


def _decided(start: dt.date | None, basis: dict[str, Any], timing: str, text: str,
             assumptions: list[str] | None = None) -> CoverageDecision:
    basis.update(timing=timing, coverage_start=start.isoformat() if start else None,
                 explanation=text, assumptions=assumptions or [])
    return CoverageDecision(start, basis)
