"""Helpers shared by the eligibility unit tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from kernels.codes import GROUP_CODES
from kernels.policy import Determination, GroupMembership, PersonFacts
from kernels.policy.batch import NONE_DAY, BatchColumns, day_number


def person(
    birth: str, *groups: str | GroupMembership, category: str | None = None, **kw: object
) -> PersonFacts:
    members = tuple(g if isinstance(g, GroupMembership) else GroupMembership(g) for g in groups)
    return PersonFacts(
        dt.date.fromisoformat(birth), insured_category=category, groups=members, **kw
    )  # type: ignore[arg-type]


def lines(d: Determination) -> dict[str, int]:
    """{budget line: yuan} of a determination, for compact assertions."""
    out: dict[str, int] = {}
    for s in d.subsidies:
        out[s.funding_source] = out.get(s.funding_source, 0) + s.amount_fen // 100
    return out


def outcome(d: Determination, rule_id: str) -> str:
    return next(t.outcome for t in d.trace if t.rule_id == rule_id)


def reason(d: Determination, rule_id: str) -> str:
    """The English reason (the Chinese one is `reason`)."""
    return next(t.reason_en for t in d.trace if t.rule_id == rule_id)


def random_population(
    n: int,
    plan_year: int,
    seed: int,
    *,
    group_rate: float = 0.03,
    late_rate: float = 0.01,
    newborn_rate: float = 0.01,
) -> BatchColumns:
    """A synthetic population exercising every rule form, including rare paths."""
    rng = np.random.default_rng(seed)
    start = day_number(dt.date(plan_year - 100, 1, 1))
    end = day_number(dt.date(plan_year, 12, 31))
    birth = rng.integers(start, end + 1, n).astype(np.int64)
    # pile up births near 1 January and age boundaries so basis edge cases are hit
    edge = rng.random(n) < 0.05
    years = rng.integers(plan_year - 80, plan_year - 10, n)
    jan = np.array(
        [day_number(dt.date(int(y), 1, 1)) for y in range(plan_year - 80, plan_year - 10)]
    )
    birth = np.where(edge, jan[years - (plan_year - 80)] + rng.integers(-1, 2, n), birth)
    groups = np.zeros(n, np.uint32)
    for g in range(len(GROUP_CODES)):
        groups |= np.where(rng.random(n) < group_rate, np.uint32(1 << g), np.uint32(0))
    g_count = len(GROUP_CODES)
    cert = np.full((n, g_count), NONE_DAY, np.int64)
    known = rng.random((n, g_count)) < 0.7
    cert_days = rng.integers(
        day_number(dt.date(2005, 1, 1)), day_number(dt.date(plan_year + 1, 3, 1)), (n, g_count)
    )
    cert = np.where(known, cert_days, cert)
    ends = np.where(
        rng.random((n, g_count)) < 0.1,
        rng.integers(
            day_number(dt.date(plan_year - 2, 1, 1)),
            day_number(dt.date(plan_year + 1, 12, 31)),
            (n, g_count),
        ),
        NONE_DAY,
    )
    later = np.where(
        rng.random(n) < 0.3,
        rng.integers(day_number(dt.date(2010, 1, 1)), day_number(dt.date(2023, 1, 1)), n),
        NONE_DAY,
    )
    # -2: a text that is no category (refused, as determine() refuses it)
    category = rng.choice(np.array([-1, -1, -1, -1, -1, -1, -1, 0, 1, 2, -2], dtype=np.int8), n)
    paid = np.where(
        rng.random(n) < 0.5,
        rng.integers(
            day_number(dt.date(plan_year - 1, 9, 1)), day_number(dt.date(plan_year - 1, 12, 31)), n
        ),
        NONE_DAY,
    )
    late = rng.random(n) < late_rate
    paid = np.where(
        late,
        rng.integers(
            day_number(dt.date(plan_year - 1, 12, 1)), day_number(dt.date(plan_year, 12, 1)), n
        ),
        paid,
    )
    newborn = rng.random(n) < newborn_rate
    birth = np.where(
        newborn,
        rng.integers(day_number(dt.date(plan_year, 1, 1)), day_number(dt.date(plan_year, 9, 1)), n),
        birth,
    )
    registered = np.where(newborn, birth + rng.integers(0, 120, n), NONE_DAY)
    return BatchColumns(
        birth_date=birth,
        insured_category=category,
        groups=groups,
        certified_on=cert,
        later_birth_on=later,
        ends_on=ends,
        paid_on=paid,
        registered_on=registered,
        broken_years=rng.integers(0, 4, n),
        paid_back_years=rng.integers(0, 2, n),
    )
