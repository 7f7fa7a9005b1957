"""Yutai 2024 (seed 003, 鱼政办字〔2023〕38号, 2023-11-10): each number quoted from the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import lines, outcome, person, reason

from kernels.policy import GroupMembership, determine

D = dt.date


def test_standard_and_periods(yutai_2024):
    # 四 "个人缴费标准为每人每年380元"
    assert yutai_2024.standard_fen("adult") == 38000
    # 三 "集中缴纳时间为 2023 年 9 月 15 日至 12 月 25 日"
    assert (yutai_2024.collection_start, yutai_2024.collection_end) == (
        D(2023, 9, 15),
        D(2023, 12, 25),
    )


def test_publicity_week_still_in_period(yutai_2024):
    # 三 "2023 年 12 月 26 日至 12 月 31 日进行数据汇总统计，并集中公示，期间城乡居民仍可参保缴费"
    assert determine(yutai_2024, person("1980-01-01"), paid_on=D(2023, 12, 31)).coverage_start == D(
        2024, 1, 1
    )
    late = determine(yutai_2024, person("1980-01-01"), paid_on=D(2024, 1, 2))
    assert late.coverage_start == D(2024, 4, 1)
    assert any(a.startswith("late_payment_waiting:") for a in late.assumptions)


@pytest.mark.parametrize("group", ["low_income_margin", "poverty_monitoring", "relapsed_poverty"])
def test_fixed_280_person_pays_100(yutai_2024, group):
    # 六3 "个人缴费部分由医疗救助资金给予 280 元定额补贴 … 参保人需自行缴纳 100 元的个人缴费部分"
    d = determine(yutai_2024, person("1974-05-01", group))
    assert lines(d) == {"medical_assistance_fund": 280}
    assert d.personal_fen == 10000


@pytest.mark.parametrize(
    "extra", ["minimum_living_allowance", "severe_disability", "entitled_veteran"]
)
def test_fixed_280_plus_county_remainder_for_exempt(yutai_2024, extra):
    # 六3 "上述人员中，属于政策规定免缴费人群的，剩余的个人缴费部分由县财政负担"
    d = determine(yutai_2024, person("1974-05-01", "low_income_margin", extra))
    assert lines(d) == {"medical_assistance_fund": 280, "county_finance": 100}
    assert d.personal_fen == 0
    assert outcome(d, "exempt_groups") == "lost"


def test_fixed_280_plus_county_for_70_plus(yutai_2024):
    d = determine(yutai_2024, person("1950-05-01", "poverty_monitoring"))
    assert lines(d) == {"medical_assistance_fund": 280, "county_finance": 100}


@pytest.mark.parametrize(
    "group",
    [
        "minimum_living_allowance",
        "extreme_poverty",
        "orphan",
        "severe_disability",
        "entitled_veteran",
    ],
)
def test_exempt_groups(yutai_2024, group):
    # 六1 "低保对象、特困人员、孤儿、重度残疾人、优抚对象、70 周岁以上老人 …
    #      个人缴费部分由政府按照规定代缴"
    d = determine(yutai_2024, person("1980-01-01", group))
    assert d.personal_fen == 0
    assert any(a.startswith("exempt_budget_line:") for a in d.assumptions)


def test_70_on_declared_basis(yutai_2024):
    # "70 周岁以上老人"; the file declares age_on_jan_1_of_plan_year
    assert determine(yutai_2024, person("1954-01-01")).personal_fen == 0
    edge = determine(yutai_2024, person("1954-01-02"))
    assert edge.personal_fen == 38000
    assert any(a.startswith("age_basis:") for a in edge.assumptions)  # the basis decided this edge


def _fp(certified: D | None, later: D | None = None) -> GroupMembership:
    return GroupMembership(
        "family_planning_household", certified_on=certified, later_birth_on=later
    )


def test_family_planning_before_2016_01_22(yutai_2024):
    # 六2 "2016 年 1 月 22 日前确定的农村独女及双女户父母个人缴费部分继续享受政府补助"
    d = determine(yutai_2024, person("1970-01-01", _fp(D(2016, 1, 21))))
    assert d.personal_fen == 0
    assert any(a.startswith("family_planning_amount:") for a in d.assumptions)


def test_family_planning_certified_on_or_after_cutoff(yutai_2024):
    # "2016 年 1 月 22 日及以后新出现的农村独女及双女户不享受政府补助"
    d = determine(yutai_2024, person("1970-01-01", _fp(D(2016, 1, 22))))
    assert d.personal_fen == 38000
    assert "not before 2016-01-22" in reason(d, "family_planning_pre_2016")


def test_family_planning_later_birth(yutai_2024):
    # "其中 2016 年 1 月 22 日及以后再生育的，个人缴费部分不享受政府补助"
    assert (
        determine(yutai_2024, person("1970-01-01", _fp(D(2010, 1, 1), D(2016, 1, 22)))).personal_fen
        == 38000
    )
    assert (
        determine(yutai_2024, person("1970-01-01", _fp(D(2010, 1, 1), D(2016, 1, 21)))).personal_fen
        == 0
    )


def test_family_planning_unknown_certification_date(yutai_2024):
    d = determine(yutai_2024, person("1970-01-01", _fp(None)))
    assert d.personal_fen == 38000
    assert "certification date unknown" in reason(d, "family_planning_pre_2016")
