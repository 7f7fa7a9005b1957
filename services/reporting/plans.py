"""What reporting needs from the plans: dates, fiscal subsidy, payment-rate targets per band.

The plans are reporting's own copy of what eligibility publishes (`eligibility.plan.v1`, kept in
`reporting.plans`, see shared/plan_copies.py), read through the policy kernel. A county is
covered by the plan of the county itself or of its city (Shuozhou 140600 covers its counties)
or province.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from kernels.policy import PlanNotFound, Policy, PolicyCatalog
from kernels.policy.rules import rule_name

# The policy files describe each target's population in words; these keywords map them to the
# bands reporting keeps counters for. "overall" is the payment rate of everyone registered.
_BAND_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("subsidized", ("subsidized", "low-income", "lifted-out", "proxy-paid")),
    ("newborn", ("newborn",)),
    ("minor", ("minor",)),
    ("age60plus", ("60+",)),
    ("adult", ("adults under 60",)),
    ("overall", ("all residents", "residents in scope")),
)


@dataclass(frozen=True)
class TargetRate:
    band: str
    percent: Decimal
    population: str


@dataclass(frozen=True)
class PlanInfo:
    region_code: str
    region_name: str
    plan_year: int
    collection_start: dt.date
    collection_end: dt.date
    publicity_from: dt.date
    publicity_until: dt.date
    final_list_date: dt.date
    fiscal_subsidy_fen: int
    target_rates: tuple[TargetRate, ...]
    # (rule id, the rule's Chinese name): what a list's 资助类别 column shows
    rule_names: tuple[tuple[str, str], ...] = ()

    def rule_name(self, rule_id: str) -> str:
        return dict(self.rule_names).get(rule_id, rule_id)


def target_rates(policy: Policy) -> tuple[TargetRate, ...]:
    out: list[TargetRate] = []
    for target in policy.model.targets:
        words = target.population.lower()
        if "registered" in words:  # a registration rate (Pingyin pupils), not a payment rate
            continue
        for band, keys in _BAND_KEYWORDS:
            if any(k in words for k in keys):
                out.append(TargetRate(band, Decimal(str(target.percent)), target.population))
    return tuple(out)


def plan_for(county_code: str, plan_year: int, plans: PolicyCatalog | None) -> PlanInfo | None:
    """`plans`: the plans reporting holds (app.state.plans.catalog); None: no plan known."""
    if plans is None:
        return None
    cat = plans
    code = county_code[:6]
    for region in (code, code[:4] + "00", code[:2] + "0000"):
        try:
            policy = cat.get(region, plan_year)
        except PlanNotFound:
            continue
        periods = policy.periods
        publicity = periods.publicity
        # Tengzhou gives no dates: the list is posted once the collection period is over.
        start = (publicity.starts_on if publicity and publicity.starts_on
                 else policy.in_period_until + dt.timedelta(days=1))
        min_days = max(5, publicity.min_days or 5) if publicity else 5
        until = publicity.ends_on if publicity and publicity.ends_on else (
            start + dt.timedelta(days=min_days - 1))
        final = periods.group_list_deadline.date if periods.group_list_deadline else (
            policy.subsidized_until or policy.in_period_until)
        return PlanInfo(
            region_code=policy.region_code, region_name=policy.region_name,
            plan_year=plan_year, collection_start=policy.collection_start,
            collection_end=policy.in_period_until, publicity_from=start,
            publicity_until=until, final_list_date=final,
            fiscal_subsidy_fen=policy.fiscal_subsidy_fen, target_rates=target_rates(policy),
            rule_names=tuple((r.id, rule_name(r).zh) for r in policy.rules),
        )
    return None
