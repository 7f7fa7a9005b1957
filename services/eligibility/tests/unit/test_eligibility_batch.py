"""The vectorised path gives exactly the per-person answers, on a large random population."""

from __future__ import annotations

import numpy as np
import pytest
from eligibility_testdata import random_population

from services.eligibility.engine import (
    BUDGET_LINES,
    INSURED_CATEGORIES,
    PolicyCatalog,
    determine,
    determine_batch,
)
from services.eligibility.engine.batch import BatchColumns, iter_people
from services.eligibility.engine.trace import WON

POPULATION = 200_000
PLANS = [("370481", 2025), ("370481", 2021), ("370124", 2025), ("370827", 2024), ("140600", 2025)]


@pytest.mark.slow
@pytest.mark.parametrize("plan", PLANS, ids=[f"{r}-{y}" for r, y in PLANS])
def test_batch_equals_determine_on_200k(plan):
    policy = PolicyCatalog.load().get(*plan)
    cols = random_population(POPULATION, policy.plan_year, seed=PLANS.index(plan) + 2025)
    result = determine_batch(policy, cols)
    assert 0 < len(result.per_person_rows) < POPULATION // 10  # rare rows only
    by_line = np.stack([result.by_budget_line[line] for line in BUDGET_LINES], axis=1)
    assert np.all(
        result.personal_fen + by_line.sum(axis=1) == result.standard_fen + result.surcharge_fen
    )
    assert np.all(result.personal_fen >= 0) and np.all(by_line >= 0)
    subsidized = 0
    for i, (facts, paid_on) in enumerate(iter_people(cols)):
        d = determine(policy, facts, paid_on=paid_on)
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


def test_boolean_group_matrix_and_datetime64_inputs(tengzhou_2025):
    cols = BatchColumns(
        birth_date=np.array(["1961-06-01", "1990-01-01", "1950-01-01"], dtype="datetime64[D]"),
        groups=np.array([[False] * 11 + [True], [False] * 12, [False, True] + [False] * 10]),
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
