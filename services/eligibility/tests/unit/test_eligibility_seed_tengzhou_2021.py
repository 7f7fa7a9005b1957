"""Tengzhou 2021 (seed 001, 滕州市人民政府办公室 2020-11-10): each number quoted from the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import lines, outcome, person

from kernels.policy import determine

D = dt.date


def test_standard_and_fiscal_floor(tengzhou_2021):
    # 二(一) "个人缴费标准为每人每年280元，城乡居民医保人均财政补助标准不低于550元"
    assert tengzhou_2021.standard_fen("adult") == 28000
    assert tengzhou_2021.fiscal_subsidy_fen == 55000
    assert tengzhou_2021.model.fiscal_subsidy.minimum_only is True


@pytest.mark.parametrize(
    "group",
    [
        "lifted_out_of_poverty",
        "minimum_living_allowance",
        "extreme_poverty",
        "orphan",
        "child_in_difficulty",
        "unsupported_child",
    ],
)
def test_hardship_groups_paid_by_city(tengzhou_2021, group):
    # 二(二)(1) "建档立卡贫困人口中脱贫享受政策人口和即时帮扶人口、低保对象、特困人员、
    #           孤儿、困境儿童、事实无人抚养儿童，
    #           参保个人缴费部分由市财政承担"
    assert lines(determine(tengzhou_2021, person("1985-01-01", group))) == {"city_finance": 280}


def test_low_income_margin_not_subsidized_in_2021(tengzhou_2021):
    # 2021's list does not name 低保边缘家庭成员 (2025's does)
    assert determine(tengzhou_2021, person("1985-01-01", "low_income_margin")).personal_fen == 28000


def test_elderly(tengzhou_2021):
    # 二(二)(2) "60岁(含60岁)—69岁老年人，参保个人缴费部分由市财政承担50%，
    #           70岁（含70岁）以上老年人，参保个人缴费部分由市财政承担"
    assert lines(determine(tengzhou_2021, person("1961-07-01"))) == {"city_finance": 140}
    assert lines(determine(tengzhou_2021, person("1951-07-01"))) == {"city_finance": 280}


def test_family_planning_halves(tengzhou_2021):
    # 二(二)(3) "农村一女、双女、独生子女伤亡病残家庭孩子及其父母，
    #           参保个人缴费部分由市、镇（街）财政各承担50%"
    d = determine(tengzhou_2021, person("1980-01-01", "family_planning_household"))
    assert lines(d) == {"city_finance": 140, "township_finance": 140}


def test_collection_period(tengzhou_2021):
    # 二(三) "集中征缴期：2020年11月1日—12月20日"
    assert (tengzhou_2021.collection_start, tengzhou_2021.collection_end) == (
        D(2020, 11, 1),
        D(2020, 12, 20),
    )
    assert determine(
        tengzhou_2021, person("1980-01-01"), paid_on=D(2020, 12, 20)
    ).coverage_start == D(2021, 1, 1)


def test_subsidized_people_get_one_more_month(tengzhou_2021):
    # 二(三) "（政府资助人员可延长1个月）"
    d = determine(
        tengzhou_2021, person("1980-01-01", "minimum_living_allowance"), paid_on=D(2021, 1, 20)
    )
    assert d.coverage_start == D(2021, 1, 1)
    assert lines(d) == {"city_finance": 280}


def test_unsubsidized_latecomer_pays_full_cost_and_waits_30_days(tengzhou_2021):
    # 二(三) "否则需全额缴纳包括各级政府补助（资助）资金在内的居民基本医疗保险费，
    #        且缴费30日后方可享受"
    d = determine(tengzhou_2021, person("1980-01-01"), paid_on=D(2021, 1, 5))
    assert d.surcharge_fen == 55000
    assert d.personal_fen == 28000 + 55000
    assert d.coverage_start == D(2021, 2, 4)
    assert any(a.startswith("late_surcharge_is_fiscal_floor:") for a in d.assumptions)


def test_subsidized_latecomer_after_extension_loses_subsidy(tengzhou_2021):
    d = determine(tengzhou_2021, person("1980-01-01", "orphan"), paid_on=D(2021, 1, 21))
    assert d.subsidies == []
    assert d.personal_fen == 83000
    assert outcome(d, "hardship_full") == "forfeited"


def test_township_tasks(tengzhou_2021):
    # 附件 "合计 1487341", 21 towns, e.g. "东郭镇 117742"
    tasks = tengzhou_2021.model.enrollment_tasks
    assert len(tasks) == 21
    assert sum(t.persons for t in tasks) == 1487341
    assert {t.unit: t.persons for t in tasks}["东郭镇"] == 117742
