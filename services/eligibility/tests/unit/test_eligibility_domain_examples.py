"""The worked examples of DOMAIN.md, to the fen."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import lines, person

from kernels.policy import GroupMembership, determine

D = dt.date

EXAMPLES = [
    # plan, person, standard, budget lines (yuan), person pays
    (("370481", 2025), person("1980-06-01"), 400, {}, 400),
    (("370481", 2025), person("1961-06-01"), 400, {"city_finance": 200}, 200),
    (
        ("370481", 2025),
        # a household of before the two-child policy (二(三)2 全面两孩政策实施前)
        person("1961-06-01", GroupMembership("family_planning_household", D(2012, 3, 1))),
        400,
        {"city_finance": 200, "township_finance": 200},
        0,
    ),
    (
        ("370481", 2025),
        person("1995-06-01", "minimum_living_allowance"),
        400,
        {"medical_assistance_fund": 400},
        0,
    ),
    (
        ("140600", 2025),
        person("1985-06-01", "poverty_monitoring"),
        400,
        {"medical_assistance_fund": 280},
        120,
    ),
    (
        ("140600", 2025),
        person("1985-06-01", "minimum_living_allowance"),
        400,
        {"medical_assistance_fund": 320},
        80,
    ),
    (
        ("370827", 2024),
        person("1974-06-01", "low_income_margin"),
        380,
        {"medical_assistance_fund": 280},
        100,
    ),
    (("370124", 2025), person("2012-05-01"), 390, {}, 390),
]


@pytest.mark.parametrize("plan,facts,standard,expected,pays", EXAMPLES)
def test_worked_example(catalog, plan, facts, standard, expected, pays):
    d = determine(catalog.get(*plan), facts)
    assert d.standard_fen == standard * 100
    assert lines(d) == expected
    assert d.personal_fen == pays * 100
    assert d.surcharge_fen == 0


def test_pingyin_late_adult(pingyin_2025):
    # "Pingyin 2025 | adult, pays 2025-03-10 (late) | 440 | - | 440, benefits from 2025-06-01"
    d = determine(pingyin_2025, person("1980-06-01"), paid_on=D(2025, 3, 10))
    assert (d.standard_fen, d.personal_fen, d.subsidies) == (44000, 44000, [])
    assert d.coverage_start == D(2025, 6, 1)
