"""Shuozhou 2025 (seed 004, 朔政办函〔2024〕54号, 2024-09-12): each number quoted from the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import lines, outcome, person

from kernels.policy import determine

D = dt.date


def test_source_and_standard(shuozhou_2025):
    assert shuozhou_2025.source.document_number == "朔政办函〔2024〕54号"
    # 二(二) "2024年预收2025年度城乡居民医保个人缴费标准为每人每年400元"
    assert shuozhou_2025.standard_fen("adult") == 40000


@pytest.mark.parametrize(
    "groups,subsidy,personal",
    [
        (("extreme_poverty",), 400, 0),  # "特困人员给予全额资助"
        (("relapsed_poverty",), 360, 40),  # "返贫致贫人口按个人缴费标准90%的比例给予定额资助"
        (("minimum_living_allowance",), 320, 80),  # "低保对象按个人缴费标准80%的比例给予定额资助"
        (("poverty_monitoring",), 280, 120),  # "易返贫致贫人口 … 按每人每年280元的标准定额资助"
        (("poverty_monitoring", "relapsed_poverty"), 360, 40),
        (("relapsed_poverty", "minimum_living_allowance"), 360, 40),
        (("low_income_margin",), 0, 400),  # not named by this plan
    ],
)
def test_subsidies(shuozhou_2025, groups, subsidy, personal):
    d = determine(shuozhou_2025, person("1985-01-01", *groups))
    assert sum(lines(d).values()) == subsidy
    assert d.personal_fen == personal * 100


@pytest.mark.parametrize("other", ["minimum_living_allowance", "extreme_poverty"])
def test_280_rule_excludes_dibao_and_tekun(shuozhou_2025, other):
    # "（…不含已纳入低保、特困供养范围人员）"
    d = determine(shuozhou_2025, person("1985-01-01", "poverty_monitoring", other))
    assert outcome(d, "at_risk_280") == "not matched"


def test_collection_period(shuozhou_2025):
    # 二(三) "原则上从2024年9月开始至2025年2月底结束"
    assert (shuozhou_2025.collection_start, shuozhou_2025.collection_end) == (
        D(2024, 9, 1),
        D(2025, 2, 28),
    )
    assert determine(
        shuozhou_2025, person("1985-01-01"), paid_on=D(2025, 2, 28)
    ).coverage_start == D(2025, 1, 1)


@pytest.mark.parametrize(
    "broken,paid_back,start",
    [
        (0, 0, D(2025, 6, 10)),  # "设置不低于3个月的待遇等待期"
        (1, 0, D(2025, 6, 10)),
        (3, 0, D(2025, 8, 10)),  # 3 fixed + 2 further broken years
        (3, 1, D(2025, 7, 10)),  # one year paid back
        (3, 5, D(2025, 6, 10)),  # never below the fixed 3 months
    ],
)
def test_waiting_period_national_rules(shuozhou_2025, broken, paid_back, start):
    facts = person("1985-01-01", broken_years=broken, paid_back_years=paid_back)
    d = determine(shuozhou_2025, facts, paid_on=D(2025, 3, 10))
    assert d.coverage_start == start
    assert any(a.startswith("national_waiting_detail:") for a in d.assumptions)


def test_newborn_covered_from_birth_nothing_to_pay(shuozhou_2025):
    # "新生儿自出生之日起（90日内）办理当年参保登记手续（当年不缴费），
    #  从出生之日起享受当年医疗保险待遇"
    d = determine(shuozhou_2025, person("2025-03-01", registered_on=D(2025, 5, 30)))  # 90 days
    assert (d.standard_fen, d.personal_fen, d.coverage_start) == (0, 0, D(2025, 3, 1))
    too_late = determine(
        shuozhou_2025, person("2025-03-01", registered_on=D(2025, 5, 31))
    )  # 91 days
    assert too_late.personal_fen == 40000


def test_newborn_registration_from_enrolled_on(shuozhou_2025):
    d = determine(shuozhou_2025, person("2025-03-01"), enrolled_on=D(2025, 3, 5))
    assert d.coverage_start == D(2025, 3, 1) and d.personal_fen == 0


def test_targets(shuozhou_2025):
    # 一 "确保辖区内城乡居民医保参保率稳定在 95% 以上，农村低收入人口和脱贫人口参保率达到 100%"
    assert [str(t.percent) for t in shuozhou_2025.model.targets] == ["95", "100"]
