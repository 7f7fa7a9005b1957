"""When coverage starts for a payment: the payment date decides.

Paid within the collection period (or, for subsidized people, its extension): the coverage start
eligibility carried in the determination. Paid later: the eligibility engine (a pure library)
works out the waiting period from the plan file.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from services.eligibility.engine import EligibilityError, PersonFacts, PolicyCatalog, determine
from services.eligibility.engine.coverage import payment_timing
from services.payments.channels._support import CHINA_TZ

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueFacts:
    region_code: str
    plan_year: int
    insured_category: str | None
    coverage_start: dt.date | None
    subsidized: bool
    birth_date: dt.date | None


def paid_on(moment: dt.datetime) -> dt.date:
    """The payment's calendar day where the collection campaign runs (Beijing time)."""
    return moment.astimezone(CHINA_TZ).date()


class CoverageCalculator:
    def __init__(self, catalog: PolicyCatalog | None) -> None:
        self.catalog = catalog

    def start(self, due: DueFacts, paid_at: dt.datetime) -> dt.date | None:
        day = paid_on(paid_at)
        if self.catalog is None:
            return due.coverage_start
        try:
            policy = self.catalog.get(due.region_code, due.plan_year)
        except EligibilityError:
            log.warning("no plan for %s/%s: coverage start taken from the determination",
                        due.region_code, due.plan_year)
            return due.coverage_start
        timing = payment_timing(policy, day)
        if timing.in_period or (timing.in_extension and due.subsidized):
            return due.coverage_start or policy.plan_start
        if due.birth_date is None:
            log.warning("late payment without a birth date: coverage start from the plan")
            return due.coverage_start
        facts = PersonFacts(birth_date=due.birth_date, insured_category=due.insured_category)
        try:
            return determine(policy, facts, paid_on=day).coverage_start
        except (EligibilityError, ValueError) as exc:
            log.error("late coverage start could not be determined (%s): taken from the "
                      "determination", exc)
            return due.coverage_start
