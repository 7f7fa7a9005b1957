"""owed_on: what a person owes and from when they are covered, for a payment date, on each seed
plan's own sentences; the parts always add up to the fen."""

from __future__ import annotations

import datetime as dt

import pytest
from eligibility_testdata import person
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels.policy import (
    GROUP_CODES,
    KnownHistory,
    PolicyCatalog,
    determine,
    determine_terms,
    owed_on,
)
from kernels.policy.owed import CLOSED, LATE, ON_TIME
from services.eligibility.plans.registry import SEED_DIR

D = dt.date


def test_tengzhou_2021_latecomer_pays_the_full_cost_and_waits_30_days(tengzhou_2021):
    # 二(三) "否则需全额缴纳包括各级政府补助（资助）资金在内的居民基本医疗保险费，
    #        且缴费30日后方可享受居民基本医疗保险待遇"; 二(一) 280 元 + 不低于550元
    _, terms = determine_terms(tengzhou_2021, person("1985-01-01"))
    assert terms.on_time_until == D(2020, 12, 20)  # 集中征缴期：2020年11月1日—12月20日
    on_time = owed_on(terms, tengzhou_2021, D(2020, 12, 20))
    assert (on_time.timing, on_time.personal_fen, on_time.coverage_start) == (
        ON_TIME, 28000, D(2021, 1, 1))
    late = owed_on(terms, tengzhou_2021, D(2021, 2, 1))
    assert late.timing == LATE
    assert (late.personal_fen, late.surcharge_fen) == (83000, 55000)
    assert late.coverage_start == D(2021, 3, 3)  # 2021-02-01 + 30 days
    assert "二(三)" in late.explanation and "830.00 元" in late.explanation


def test_tengzhou_2021_subsidized_extension_then_subsidy_forfeited(tengzhou_2021):
    # 二(三) "（政府资助人员可延长1个月）": 低保 paid by the city until 2021-01-20
    _, terms = determine_terms(tengzhou_2021, person("1985-01-01", "minimum_living_allowance"))
    assert terms.on_time_until == D(2021, 1, 20)
    ext = owed_on(terms, tengzhou_2021, D(2021, 1, 20))
    assert ext.timing == ON_TIME and ext.subsidy_of("city_finance") == 28000
    assert ext.coverage_start == D(2021, 1, 1)
    late = owed_on(terms, tengzhou_2021, D(2021, 1, 21))
    assert late.timing == LATE and late.subsidies == () and late.personal_fen == 83000
    assert "不再享受" in late.explanation


def test_pingyin_late_pays_440_covered_3_months_from_the_month_of_payment(pingyin_2025):
    # 三(四) "待遇享受等待期为3个月（从缴费当月开始计算）"; 三(三) 成年居民 440 元
    _, terms = determine_terms(pingyin_2025, person("1985-01-01"))
    late = owed_on(terms, pingyin_2025, D(2025, 3, 10))
    assert (late.timing, late.personal_fen, late.surcharge_fen) == (LATE, 44000, 0)
    assert late.coverage_start == D(2025, 6, 1)
    assert "三(四)" in late.explanation


def test_pingyin_fallback_proxy_payment_only_for_those_paying_on_time(pingyin_2025):
    # 三(三) "在集中征缴期内，对…不享受其他资助参保政策的“脱贫享受政策人口”全额代缴"
    _, terms = determine_terms(pingyin_2025, person("1985-01-01", "lifted_out_of_poverty"))
    on_time = owed_on(terms, pingyin_2025, D(2024, 12, 31))
    assert on_time.personal_fen == 0 and on_time.subsidy_of("rural_revitalization") == 44000
    late = owed_on(terms, pingyin_2025, D(2025, 1, 1))
    assert late.timing == LATE and late.personal_fen == 44000
    assert late.subsidy_of("rural_revitalization") == 0
    assert late.coverage_start == D(2025, 4, 1)


def test_shuozhou_newborn_registered_late_is_never_covered_before_birth(shuozhou_2025):
    # 二(三) "新生儿自出生之日起（90日内）办理当年参保登记手续（当年不缴费）"; registered 100
    # days after birth: an ordinary (late) enrollee, and coverage never starts before birth
    baby = person("2025-06-01", registered_on=D(2025, 9, 9))
    on_time, terms = determine_terms(shuozhou_2025, baby)
    assert on_time.coverage_start == D(2025, 6, 1)
    assert terms.late is not None and terms.late.personal_fen > 0
    owed = owed_on(terms, shuozhou_2025, D(2025, 9, 9))
    assert owed.timing == LATE and owed.coverage_start == D(2025, 12, 9)
    assert owed.coverage_start >= baby.birth_date


def test_shuozhou_newborn_registered_in_time_owes_nothing_whenever(shuozhou_2025):
    baby = person("2025-06-01", registered_on=D(2025, 7, 1))
    _, terms = determine_terms(shuozhou_2025, baby)
    assert terms.late is None
    owed = owed_on(terms, shuozhou_2025, D(2025, 11, 1))
    assert (owed.timing, owed.personal_fen, owed.coverage_start) == (ON_TIME, 0, D(2025, 6, 1))


def test_tengzhou_2025_payment_after_the_plan_year_is_closed(tengzhou_2025):
    # 二(四) "2024年10月1日－12月31日为我市2025年度居民医保集中缴费期"; paid 2026-03-01
    _, terms = determine_terms(tengzhou_2025, person("1985-01-01"))
    owed = owed_on(terms, tengzhou_2025, D(2026, 3, 1))
    assert owed.timing == CLOSED and owed.coverage_start is None and owed.personal_fen == 0
    assert "2025 年度已不再收取" in owed.explanation
    # the last day a late payment still buys coverage in 2025: 3 months before 12-31
    assert terms.payable_until == D(2025, 9, 30)
    assert owed_on(terms, tengzhou_2025, D(2025, 9, 30)).coverage_start == D(2025, 12, 30)
    assert owed_on(terms, tengzhou_2025, D(2025, 10, 1)).timing == CLOSED


def test_broken_years_lengthen_the_wait_and_can_close_the_year(tengzhou_2025):
    _, terms = determine_terms(tengzhou_2025, person("1985-01-01"))
    plain = owed_on(terms, tengzhou_2025, D(2025, 3, 10))
    longer = owed_on(terms, tengzhou_2025, D(2025, 3, 10), KnownHistory(broken_years=3))
    assert (plain.coverage_start, longer.coverage_start) == (D(2025, 6, 10), D(2025, 8, 10))
    assert any("未查询" in a for a in plain.assumptions)
    assert owed_on(terms, tengzhou_2025, D(2025, 9, 1), KnownHistory(3)).timing == CLOSED


def test_preview_and_owed_on_agree_with_determine_when_open(tengzhou_2021):
    facts = person("1961-07-01")
    _, terms = determine_terms(tengzhou_2021, facts)
    for day in (D(2020, 12, 1), D(2021, 1, 5), D(2021, 6, 1)):
        owed = owed_on(terms, tengzhou_2021, day)
        d = determine(tengzhou_2021, facts, paid_on=day)
        assert (owed.personal_fen, owed.coverage_start) == (d.personal_fen, d.coverage_start)


# --- every payment date, every plan: the parts add up to the fen ------------------------------

_CATALOG = PolicyCatalog.load(SEED_DIR)
_PLANS = [("370481", 2021), ("370481", 2025), ("370124", 2025), ("370827", 2024),
          ("140600", 2025)]


@settings(max_examples=300, deadline=None)
@given(
    plan=st.sampled_from(_PLANS),
    birth=st.dates(D(1920, 1, 1), D(2025, 12, 31)),
    groups=st.lists(st.sampled_from(GROUP_CODES), max_size=3, unique=True),
    offset=st.integers(-120, 800),
    registered_after=st.integers(0, 200),
    broken=st.integers(0, 5),
)
def test_parts_add_up_for_every_payment_date(plan, birth, groups, offset, registered_after,
                                             broken):
    policy = _CATALOG.get(*plan)
    assume(birth <= policy.plan_end)  # born after the plan year: not in it (refused elsewhere)
    registered = birth + dt.timedelta(days=registered_after)
    facts = person(birth.isoformat(), *groups, registered_on=registered)
    _, terms = determine_terms(policy, facts)
    day = policy.collection_start + dt.timedelta(days=offset)
    owed = owed_on(terms, policy, day, KnownHistory(broken_years=broken))
    if owed.timing == CLOSED:
        assert owed.coverage_start is None and owed.outcome is None
        assert day > terms.payable_until or broken > 1
        return
    out = owed.outcome
    assert out is not None
    assert out.standard_fen + out.surcharge_fen == out.personal_fen + out.subsidy_fen
    assert out.personal_fen >= 0 and all(s.amount_fen > 0 for s in out.subsidies)
    assert owed.coverage_start is not None
    assert policy.plan_start <= owed.coverage_start <= policy.plan_end
    assert birth <= owed.coverage_start
    assert (owed.timing == ON_TIME) == (day <= terms.on_time_until or terms.late is None)
    assert owed.explanation


@pytest.mark.parametrize("plan", _PLANS)
def test_payable_until_is_the_last_day_that_buys_coverage(plan):
    policy = _CATALOG.get(*plan)
    _, terms = determine_terms(policy, person("1985-01-01"))
    last = owed_on(terms, policy, terms.payable_until)
    assert last.timing != CLOSED and last.coverage_start <= policy.plan_end
    after = owed_on(terms, policy, terms.payable_until + dt.timedelta(days=1))
    assert after.timing == CLOSED
