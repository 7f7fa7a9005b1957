"""Pingyin 2025 (seed 002, 平政办字〔2024〕9号, 2024-10-12): each number quoted from the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import lines, outcome, person, reason

from kernels.policy import GroupMembership, determine

D = dt.date


def test_source_document(pingyin_2025):
    assert pingyin_2025.source.document_number == "平政办字〔2024〕9号"
    assert pingyin_2025.source.issued_on == D(2024, 10, 12)


@pytest.mark.parametrize(
    "birth,declared,category,yuan",
    [
        # 三(三) "成年居民个人缴费标准由每人每年420元调整为440元"
        ("2006-12-31", None, "adult", 440),
        # "少年儿童个人缴费标准由每人每年360元调整为390元";
        # 三(一) "18周岁以下（2007年1月1日之后出生的人员）"
        ("2007-01-01", None, "minor", 390),
        ("2012-05-01", None, "minor", 390),
        # "驻济高校大学生个人缴费标准不变，仍为240元"
        ("2005-09-01", "student", "student", 240),
        # 三(一) "在校学生、托幼机构在园儿童以及其他18周岁以下…"
        # — a 19-year-old pupil on the school list
        ("2006-03-01", "minor", "minor", 390),
        # an 'adult' declaration for a 17-year-old (adult on some day of 2025) is not
        # accepted: born after 2007-01-01, a 少年儿童 pays the minor rate
        ("2007-06-01", "adult", "minor", 390),
    ],
)
def test_standards_by_category(pingyin_2025, birth, declared, category, yuan):
    d = determine(pingyin_2025, person(birth, category=declared))
    assert d.insured_category == category
    assert d.standard_fen == d.personal_fen == yuan * 100


@pytest.mark.parametrize(
    "group",
    [
        "minimum_living_allowance",
        "extreme_poverty",
        "low_income_margin",
        "poverty_monitoring",
        "relapsed_poverty",
        "orphan",
        "unsupported_child",
        "severe_disability",
        "entitled_veteran",
    ],
)
def test_subsidized_groups_pay_nothing(pingyin_2025, group):
    # 三(三) "上述政府资助人员个人不缴费，由政府给予全额补助"
    d = determine(pingyin_2025, person("1980-01-01", group))
    assert d.personal_fen == 0
    assert sum(lines(d).values()) == 440
    assert d.assumptions  # the budget line is an assumption of the file


def test_minor_in_subsidized_group_full_minor_rate(pingyin_2025):
    d = determine(pingyin_2025, person("2015-01-01", "orphan"))
    assert d.standard_fen == 39000 and d.personal_fen == 0


def test_lifted_out_of_poverty_fallback(pingyin_2025):
    # "对辖区内不享受其他资助参保政策的“脱贫享受政策人口”全额代缴" by 县乡村振兴部门
    d = determine(pingyin_2025, person("1980-01-01", "lifted_out_of_poverty"))
    assert lines(d) == {"rural_revitalization": 440}
    both = determine(
        pingyin_2025, person("1980-01-01", "lifted_out_of_poverty", "minimum_living_allowance")
    )
    assert lines(both) == {"medical_assistance_fund": 440}
    assert outcome(both, "lifted_out_fallback") == "skipped"
    assert "only a fallback" in reason(both, "lifted_out_fallback")


def test_lifted_out_proxy_payment_only_in_collection_period(pingyin_2025):
    # "在集中征缴期内，对…全额代缴"
    d = determine(
        pingyin_2025, person("1980-01-01", "lifted_out_of_poverty"), paid_on=D(2025, 2, 1)
    )
    assert d.personal_fen == 44000


def test_late_payment_three_months_from_payment_month(pingyin_2025):
    # 三(四) "待遇享受等待期为3个月（从缴费当月开始计算）"
    d = determine(pingyin_2025, person("1980-01-01"), paid_on=D(2025, 3, 10))
    assert (d.personal_fen, d.coverage_start) == (44000, D(2025, 6, 1))
    assert determine(
        pingyin_2025, person("1980-01-01"), paid_on=D(2025, 1, 31)
    ).coverage_start == D(2025, 4, 1)


def test_periods(pingyin_2025):
    # 三(二)1 "2024年9月1日至12月31日为2025年度居民基本医疗保险的集中参保登记缴费期"
    assert (pingyin_2025.collection_start, pingyin_2025.collection_end) == (
        D(2024, 9, 1),
        D(2024, 12, 31),
    )
    p = pingyin_2025.periods
    # 四(三) "务必于10月18日前提报相关人员名单"; "必须在2024年10月25日前完成"
    assert [x.date for x in p.registration_deadlines][:2] == [D(2024, 10, 18), D(2024, 10, 25)]
    # 四(五) "自12月15日开始 … 公示期不少于5天"
    assert p.publicity is not None and (p.publicity.starts_on, p.publicity.min_days) == (
        D(2024, 12, 15),
        5,
    )
    # 四(六) "2024年12月20日，政府资助人员的各职能部门需再次提报最终全量人员名单 … 县医保局将以此
    # 最终名单核对政府资助人员参保情况，防止政府资助人员漏缴": a date for the lists, no cut-off
    assert p.group_list_deadline is None
    assert D(2024, 12, 20) in [x.date for x in p.registration_deadlines]


def test_certified_after_final_list_still_counts(pingyin_2025):
    """四(六): the 12-20 final list is used "以此最终名单核对政府资助人员参保情况，防止政府资助人员
    漏缴" — to find missed payments. The plan sets no cut-off, so a 低保 person certified
    on 12-21 still pays nothing (三(三) "上述政府资助人员个人不缴费")."""
    late = GroupMembership("minimum_living_allowance", certified_on=D(2024, 12, 21))
    d = determine(pingyin_2025, person("1980-01-01", late))
    assert d.personal_fen == 0 and lines(d) == {"medical_assistance_fund": 440}
    assert not any("deadline" in t.reason for t in d.trace)


def test_targets(pingyin_2025):
    # 二 "政府资助人员和新生儿（0-1岁）参保缴费率须达到100%" … "须达到98%"
    percents = {str(t.percent) for t in pingyin_2025.model.targets}
    assert {"100", "98"} <= percents
