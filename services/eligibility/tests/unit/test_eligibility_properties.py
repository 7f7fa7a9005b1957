"""Hypothesis properties that hold for every shipped plan and any person."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels.policy import (
    BUDGET_LINES,
    GROUP_CODES,
    INSURED_CATEGORIES,
    GroupMembership,
    PersonFacts,
    PolicyCatalog,
    determine,
    determine_batch,
)
from kernels.policy.batch import NONE_DAY, BatchColumns, day_number
from kernels.policy.errors import InvalidDeclaration
from kernels.policy.rules import declaration_possible
from services.eligibility.plans.registry import SEED_DIR

CATALOG = PolicyCatalog.load(SEED_DIR)
POLICIES = list(CATALOG)

dates = st.dates(min_value=dt.date(1915, 1, 1), max_value=dt.date(2026, 6, 30))
maybe_dates = st.none() | dates
memberships = st.builds(
    GroupMembership,
    code=st.sampled_from(GROUP_CODES),
    certified_on=maybe_dates,
    ends_on=maybe_dates,
    later_birth_on=maybe_dates,
)
people = st.builds(
    PersonFacts,
    birth_date=dates,
    insured_category=st.none() | st.sampled_from(INSURED_CATEGORIES),
    groups=st.lists(memberships, max_size=4).map(tuple),
    registered_on=maybe_dates,
    broken_years=st.integers(0, 6),
    paid_back_years=st.integers(0, 6),
)
policies = st.sampled_from(POLICIES)


def possible(policy, facts: PersonFacts) -> bool:
    """Whether the declared category can be true (else determine() refuses the person)."""
    cat = facts.insured_category
    return cat is None or declaration_possible(policy, cat, facts.birth_date) is None


@settings(max_examples=400, deadline=None)
@given(policy=policies, facts=people, paid_on=maybe_dates, enrolled_on=maybe_dates)
def test_parts_add_up_to_the_fen(policy, facts, paid_on, enrolled_on):
    assume(possible(policy, facts))
    d = determine(policy, facts, enrolled_on=enrolled_on, paid_on=paid_on)
    assert (
        d.personal_fen + sum(s.amount_fen for s in d.subsidies) == d.standard_fen + d.surcharge_fen
    )
    assert d.personal_fen >= 0 and d.surcharge_fen >= 0 and d.standard_fen >= 0
    assert all(isinstance(s.amount_fen, int) and s.amount_fen > 0 for s in d.subsidies)
    assert all(s.funding_source in BUDGET_LINES for s in d.subsidies)
    assert len({s.rule_id for s in d.subsidies}) <= 1  # never two rules at once
    assert d.policy_version == policy.version
    assert d.trace and all(t.reason for t in d.trace)
    json.dumps(d.to_dict(), ensure_ascii=False)


@settings(max_examples=200, deadline=None)
@given(policy=policies, facts=people, paid_on=maybe_dates)
def test_same_input_same_answer(policy, facts, paid_on):
    assume(possible(policy, facts))
    assert (
        determine(policy, facts, paid_on=paid_on).to_dict()
        == determine(policy, facts, paid_on=paid_on).to_dict()
    )


@settings(max_examples=200, deadline=None)
@given(policy=policies, facts=people)
def test_on_time_payment_covers_the_whole_year(policy, facts):
    assume(possible(policy, facts))
    d = determine(policy, facts, paid_on=policy.collection_end)
    assert d.coverage_start <= policy.plan_start or d.coverage_start == facts.birth_date


def _day(value: dt.date | None) -> int:
    return NONE_DAY if value is None else day_number(value)


@settings(max_examples=100, deadline=None)
@given(policy=policies, rows=st.lists(st.tuples(people, maybe_dates), min_size=1, max_size=20))
def test_batch_agrees_with_determine(policy, rows):
    # one membership per group code in the batch layout
    facts = [
        PersonFacts(
            p.birth_date,
            p.insured_category,
            tuple({m.code: m for m in p.groups}.values()),
            p.registered_on,
            p.broken_years,
            p.paid_back_years,
        )
        for p, _ in rows
    ]
    n, g = len(facts), len(GROUP_CODES)
    cert = np.full((n, g), NONE_DAY, np.int64)
    ends = np.full((n, g), NONE_DAY, np.int64)
    later = np.full((n, g), NONE_DAY, np.int64)
    bits = np.zeros(n, np.uint32)
    for i, p in enumerate(facts):
        for m in p.groups:
            k = GROUP_CODES.index(m.code)
            bits[i] |= np.uint32(1 << k)
            cert[i, k], ends[i, k], later[i, k] = (
                _day(m.certified_on),
                _day(m.ends_on),
                _day(m.later_birth_on),
            )
    cols = BatchColumns(
        birth_date=np.array([day_number(p.birth_date) for p in facts], np.int64),
        insured_category=np.array(
            [
                -1 if p.insured_category is None else INSURED_CATEGORIES.index(p.insured_category)
                for p in facts
            ],
            np.int8,
        ),
        groups=bits,
        certified_on=cert,
        ends_on=ends,
        later_birth_on=later,
        paid_on=np.array([_day(paid) for _, paid in rows], np.int64),
        registered_on=np.array([_day(p.registered_on) for p in facts], np.int64),
        broken_years=np.array([p.broken_years for p in facts]),
        paid_back_years=np.array([p.paid_back_years for p in facts]),
    )
    result = determine_batch(policy, cols)
    for i, (p, (_, paid)) in enumerate(zip(facts, rows, strict=True)):
        if not possible(policy, p):  # refused by determine() and flagged by the batch
            assert bool(result.refused[i])
            try:
                determine(policy, p, paid_on=paid)
            except InvalidDeclaration:
                continue
            raise AssertionError(f"determine() accepts the refused declaration of {p}")
        assert not result.refused[i]
        d = determine(policy, p, paid_on=paid)
        assert int(result.personal_fen[i]) == d.personal_fen
        assert INSURED_CATEGORIES[result.insured_category[i]] == d.insured_category
        for line in BUDGET_LINES:
            assert int(result.by_budget_line[line][i]) == sum(
                s.amount_fen for s in d.subsidies if s.funding_source == line
            )
