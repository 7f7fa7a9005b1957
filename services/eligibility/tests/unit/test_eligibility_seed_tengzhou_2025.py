"""Tengzhou 2025 (seed 000, 滕州市人民政府办公室 2024-10-18): each number quoted from the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import lines, outcome, person, reason

from kernels.policy import GroupMembership, determine

D = dt.date


def test_source_document(tengzhou_2025):
    assert tengzhou_2025.source.issuer == "滕州市人民政府办公室"
    assert tengzhou_2025.source.issued_on == D(2024, 10, 18)
    # "按照《…》（枣医保发〔2024〕27号）文件精神"
    assert "枣医保发〔2024〕27号" in tengzhou_2025.source.based_on


def test_standard_and_fiscal_subsidy(tengzhou_2025):
    # 二(一) "2024年财政补助标准为每人每年670元，2025年个人缴费标准为每人每年400元"
    assert tengzhou_2025.fiscal_subsidy_fen == 67000
    for category in ("adult", "minor", "student"):
        assert tengzhou_2025.standard_fen(category) == 40000


def test_collection_period_and_coverage(tengzhou_2025):
    # 二(四) "2024年10月1日－12月31日为我市2025年度居民医保集中缴费期。
    #        在集中缴费期按时缴费的，自2025年1月1日起享受"
    assert tengzhou_2025.collection_start == D(2024, 10, 1)
    assert tengzhou_2025.collection_end == D(2024, 12, 31)
    for paid in (D(2024, 10, 1), D(2024, 12, 31)):
        assert determine(tengzhou_2025, person("1980-01-01"), paid_on=paid).coverage_start == D(
            2025, 1, 1
        )


@pytest.mark.parametrize(
    "group",
    [
        "extreme_poverty",
        "minimum_living_allowance",
        "relapsed_poverty",
        "low_income_margin",
        "poverty_monitoring",
        "orphan",
        "unsupported_child",
        "child_in_difficulty",
    ],
)
def test_hardship_groups_full_from_medical_assistance_fund(tengzhou_2025, group):
    # 二(二) "对特困人员、低保对象、返贫致贫人口、低保边缘家庭成员、防止返贫监测帮扶对象、
    #        孤儿、事实无人抚养儿童及重点困境儿童
    #        …个人缴费部分，由市财政通过医疗救助资金给予全额资助"
    d = determine(tengzhou_2025, person("1990-06-01", group))
    assert lines(d) == {"medical_assistance_fund": 400}
    assert d.personal_fen == 0


@pytest.mark.parametrize(
    "birth,city,personal",
    [
        (
            "1965-12-31",
            200,
            200,
        ),  # 60 in 2025: "60岁（含60岁）-69岁老年人，个人缴费部分由市财政承担50%"
        ("1956-01-01", 200, 200),  # 69 in 2025
        (
            "1955-06-30",
            400,
            0,
        ),  # 70 in 2025: "70岁（含70岁）以上老年人，个人缴费部分由市财政全额承担"
        ("1930-01-01", 400, 0),
        ("1966-01-01", 0, 400),  # 59: no age subsidy
    ],
)
def test_age_subsidies(tengzhou_2025, birth, city, personal):
    d = determine(tengzhou_2025, person(birth))
    assert lines(d).get("city_finance", 0) == city
    assert d.personal_fen == personal * 100


def test_age_rule_lists_its_assumed_basis(tengzhou_2025):
    d = determine(tengzhou_2025, person("1961-05-01"))
    assert any(a.startswith("age_basis:") for a in d.assumptions)


def test_family_planning_city_and_township_halves(tengzhou_2025):
    # 二(三)2 "全面两孩政策实施前的…独生子女死亡伤残家庭孩子及其父母，个人缴费部分由市、镇街财政
    # 各承担50%" — a household certified in 2012
    fp = GroupMembership("family_planning_household", certified_on=dt.date(2012, 3, 1))
    d = determine(tengzhou_2025, person("1990-03-03", fp))
    assert lines(d) == {"city_finance": 200, "township_finance": 200}
    assert d.personal_fen == 0


@pytest.mark.parametrize("group", ["severe_disability", "entitled_veteran"])
def test_disability_and_veterans_full_city(tengzhou_2025, group):
    # 二(三)3 "重度残疾人，个人缴费部分由市财政全额承担";
    # 二(三)4 "抚恤定补优抚对象，个人缴费部分由市财政全额承担"
    d = determine(tengzhou_2025, person("1990-03-03", group))
    assert lines(d) == {"city_finance": 400}


def test_highest_standard_no_stacking(tengzhou_2025):
    # "符合多个代缴政策的，按最高代缴标准认定，不得重复享受"
    d = determine(tengzhou_2025, person("1961-01-01", "severe_disability"))
    assert lines(d) == {"city_finance": 400}  # not 200 + 400
    assert outcome(d, "elderly_60_69") == "lost"
    assert "less than severe_disability" in reason(d, "elderly_60_69")


def test_tie_broken_by_declared_priority(tengzhou_2025):
    # 低保 (medical assistance fund, full) and 70+ (city, full) tie on amount;
    # the file's priority decides
    d = determine(tengzhou_2025, person("1950-01-01", "minimum_living_allowance"))
    assert lines(d) == {"medical_assistance_fund": 400}
    assert "priority" in reason(d, "elderly_70_plus")


def test_group_that_ended_before_the_plan_year_does_not_count(tengzhou_2025):
    d = determine(
        tengzhou_2025,
        person("1990-01-01", GroupMembership("minimum_living_allowance", ends_on=D(2024, 11, 30))),
    )
    assert d.personal_fen == 40000
    assert outcome(d, "group:minimum_living_allowance") == "not counted"


def test_late_payment_uses_declared_assumption(tengzhou_2025):
    # The plan is silent on latecomers; the file assumes the national 2025 waiting period.
    d = determine(tengzhou_2025, person("1980-01-01"), paid_on=D(2025, 3, 10))
    assert d.coverage_start == D(2025, 6, 10)
    assert d.personal_fen == 40000 and d.surcharge_fen == 0
    assert any(a.startswith("late_payment_national_2025:") for a in d.assumptions)
