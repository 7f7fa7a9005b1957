"""The vectorised path gives exactly the per-person answers, on a large random population."""

from __future__ import annotations

import numpy as np
import pytest
from eligibility_testdata import random_population

from kernels.policy import (
    BUDGET_LINES,
    INSURED_CATEGORIES,
    PolicyCatalog,
    determine,
    determine_batch,
)
from kernels.policy.batch import BatchColumns, iter_people
from kernels.policy.errors import InvalidDeclaration
from kernels.policy.trace import WON
from services.eligibility.plans.registry import SEED_DIR

POPULATION = 200_000
PLANS = [("370481", 2025), ("370481", 2021), ("370124", 2025), ("370827", 2024), ("140600", 2025)]


@pytest.mark.slow
@pytest.mark.parametrize("plan", PLANS, ids=[f"{r}-{y}" for r, y in PLANS])
def test_batch_equals_determine_on_200k(plan):
    policy = PolicyCatalog.load(SEED_DIR).get(*plan)
    cols = random_population(POPULATION, policy.plan_year, seed=PLANS.index(plan) + 2025)
    result = determine_batch(policy, cols)
    assert 0 < len(result.per_person_rows) < POPULATION // 10  # rare rows only
    by_line = np.stack([result.by_budget_line[line] for line in BUDGET_LINES], axis=1)
    assert np.all(
        result.personal_fen + by_line.sum(axis=1) == result.standard_fen + result.surcharge_fen
    )
    assert np.all(result.personal_fen >= 0) and np.all(by_line >= 0)
    subsidized = 0
    refused = 0
    for i, (facts, paid_on) in enumerate(iter_people(cols)):
        try:
            d = determine(policy, facts, paid_on=paid_on)
        except InvalidDeclaration:  # a declared category the plan refuses: so does the batch
            assert result.refused[i], f"row {i}: determine refuses {facts}, the batch does not"
            refused += 1
            continue
        assert not result.refused[i], f"row {i}: the batch refuses {facts}, determine does not"
        expect = [
            sum(s.amount_fen for s in d.subsidies if s.funding_source == line)
            for line in BUDGET_LINES
        ]
        won = [t.rule_id for t in d.trace if t.outcome == WON]
        got_rule = result.winning_rule[i]
        ok = (
            result.personal_fen[i] == d.personal_fen
            and result.standard_fen[i] == d.standard_fen
            and result.surcharge_fen[i] == d.surcharge_fen
            and list(by_line[i]) == expect
            and INSURED_CATEGORIES[result.insured_category[i]] == d.insured_category
            and (policy.rule_ids[got_rule] if got_rule >= 0 else None) == (won[0] if won else None)
        )
        assert ok, f"row {i}: batch {by_line[i]} {result.personal_fen[i]} vs {d.to_dict()}"
        subsidized += bool(d.subsidies)
    assert subsidized > POPULATION // 50  # the population exercises the rules
    assert 0 < refused == int(result.refused.sum())  # impossible and unknown declarations


def test_boolean_group_matrix_and_datetime64_inputs(tengzhou_2025):
    cols = BatchColumns(
        birth_date=np.array(["1961-06-01", "1990-01-01", "1950-01-01"], dtype="datetime64[D]"),
        groups=np.array([[False] * 11 + [True], [False] * 12, [False, True] + [False] * 10]),
        # family planning households of before the two-child policy (二(三)2): certified 2010
        certified_on=np.array(["2010-05-01", "NaT", "NaT"], dtype="datetime64[D]"),
    )
    r = determine_batch(tengzhou_2025, cols)
    assert list(r.personal_fen) == [0, 40000, 0]
    assert list(r.by_budget_line["township_finance"]) == [20000, 0, 0]
    assert list(r.by_budget_line["medical_assistance_fund"]) == [0, 0, 40000]
    assert [tengzhou_2025.rule_ids[k] for k in r.winning_rule if k >= 0] == [
        "family_planning",
        "hardship_full",
    ]


def test_bits_beyond_known_groups_refused(tengzhou_2025):
    with pytest.raises(ValueError):
        determine_batch(
            tengzhou_2025,
            BatchColumns(birth_date=np.zeros(1, np.int64), groups=np.array([1 << 12])),
        )


@pytest.mark.parametrize("plan", PLANS, ids=[f"{r}-{y}" for r, y in PLANS])
def test_late_batch_equals_the_late_outcome_per_person(plan):
    """determine_batch(late=True) gives, row by row, the late outcome of determine_terms."""
    from kernels.policy import determine_terms

    policy = PolicyCatalog.load(SEED_DIR).get(*plan)
    cols = random_population(4_000, policy.plan_year, seed=PLANS.index(plan) + 7)
    cols.paid_on = None
    cols.insured_category = None  # declarations are checked elsewhere (rules.py)
    result = determine_batch(policy, cols, late=True)
    by_line = np.stack([result.by_budget_line[line] for line in BUDGET_LINES], axis=1)
    assert np.all(
        result.personal_fen + by_line.sum(axis=1) == result.standard_fen + result.surcharge_fen
    )
    late_rows = 0
    for i, (facts, _) in enumerate(iter_people(cols)):
        on_time, terms = determine_terms(policy, facts)
        late = terms.late
        if late is None:  # a newborn registered in time: owes nothing either way
            assert result.personal_fen[i] == on_time.personal_fen == 0
            continue
        expect = [sum(s.amount_fen for s in late.subsidies if s.funding_source == line)
                  for line in BUDGET_LINES]
        assert (int(result.personal_fen[i]), int(result.surcharge_fen[i]), list(by_line[i])) \
            == (late.personal_fen, late.surcharge_fen, expect), f"row {i}: {facts}"
        late_rows += late.personal_fen != on_time.personal_fen
    assert late_rows or not (policy.late_payment.subsidies_forfeited
                             or policy.late_payment.surcharge != "none")
