"""Coverage start of a payment, per plan: in period, late (waiting period), broken enrollment
counted from what payments holds about earlier plan years, back payments."""

from __future__ import annotations

import datetime as dt

import pytest

from devtools.testing.plans import seed_catalog
from services.payments.coverage import (
    CoverageCalculator,
    DueFacts,
    EnrollmentHistory,
    PriorYear,
    enrollment_history,
)

CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def calc() -> CoverageCalculator:
    return CoverageCalculator(seed_catalog())


def due(region: str, year: int, *, subsidized: bool = False,
        standard_fen: int = 40000) -> DueFacts:
    """A due as a determination published before it carried its late outcome."""
    return DueFacts(region_code=region, plan_year=year, insured_category="adult",
                    coverage_start=dt.date(year, 1, 1), subsidized=subsidized,
                    birth_date=dt.date(1980, 1, 1), standard_fen=standard_fen,
                    personal_fen=standard_fen)


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), CHINA)


def paid(year: int, day: str) -> PriorYear:
    return PriorYear(year, True, 40000, at(day))


def unpaid(year: int, personal_fen: int = 40000) -> PriorYear:
    return PriorYear(year, True, personal_fen, None)


def history(plan_year: int, first: int | None, *years: PriorYear) -> EnrollmentHistory:
    return enrollment_history(plan_year, "140600", {y.plan_year: y for y in years}, first)


# --- in period ------------------------------------------------------------------------------


def test_paid_in_period_covers_from_the_plan_year_start(calc: CoverageCalculator) -> None:
    d = calc.decide(due("370481", 2025), at("2024-12-31", 23))  # last day, Beijing time
    assert d.start == dt.date(2025, 1, 1)
    assert d.basis["timing"] == "on_time" and "集中缴费期内" in d.basis["explanation"]


def test_the_payment_day_is_the_day_in_beijing(calc: CoverageCalculator) -> None:
    # 2024-12-31 17:00 UTC is already 2025-01-01 in Beijing: late
    moment = dt.datetime(2024, 12, 31, 17, tzinfo=dt.UTC)
    assert calc.decide(due("370481", 2025), moment).basis["timing"] == "late"


# --- Tengzhou 2021: 30 days from the payment date -------------------------------------------


def test_tengzhou_2021_waits_30_days(calc: CoverageCalculator) -> None:
    d = calc.decide(due("370481", 2021, standard_fen=28000), at("2021-02-01"))
    assert d.start == dt.date(2021, 3, 3)
    assert d.basis["timing"] == "late" and d.basis["waiting"]["unit"] == "days"
    assert "待遇等待期 30日（自缴费之日起计算" in d.basis["explanation"]
    # broken years do not matter under this plan: no history is needed, none is read
    assert not calc.needs_history(due("370481", 2021), at("2021-02-01"))
    assert not any("未查询" in a for a in d.basis["assumptions"])
    # the late payer pays 280 + the 550 fiscal floor (二(三)), derived from the plan for a due
    # published without its late outcome, and saying so
    assert (d.basis["personal_fen"], d.basis["surcharge_fen"]) == (83000, 55000)
    assert any("尚无逾期缴费的金额" in a for a in d.basis["assumptions"])


def test_tengzhou_2021_subsidized_extension(calc: CoverageCalculator) -> None:
    assert calc.decide(due("370481", 2021, subsidized=True), at("2021-01-20")).start == \
        dt.date(2021, 1, 1)
    assert calc.decide(due("370481", 2021), at("2021-01-20")).start == dt.date(2021, 2, 19)


# --- Pingyin 2025: 3 months from the month of payment ---------------------------------------


def test_pingyin_2025_waits_3_months_from_the_month_of_payment(calc: CoverageCalculator) -> None:
    d = calc.decide(due("370124", 2025), at("2025-03-10"))
    assert d.start == dt.date(2025, 6, 1)  # DOMAIN.md worked example
    assert "待遇等待期 3个月（自缴费当月起计算" in d.basis["explanation"]
    assert d.basis["broken_years"] == 0
    assert not calc.needs_history(due("370124", 2025), at("2025-03-10"))


# --- national rule from 2025 (Shuozhou; Tengzhou 2025 assumes it) ---------------------------


@pytest.mark.parametrize(("prior", "months"), [
    ((paid(2024, "2023-12-01"),), 3),  # 0 broken years
    ((unpaid(2024), paid(2023, "2022-11-20")), 3),  # 1 broken year: the fixed 3 months
    ((unpaid(2024), unpaid(2023), paid(2022, "2021-12-01")), 4),  # 2: one further year
    ((unpaid(2024), unpaid(2023), unpaid(2022), paid(2021, "2020-12-01")), 5),
])
def test_national_2025_rule_by_broken_years(calc: CoverageCalculator,
                                            prior: tuple[PriorYear, ...], months: int) -> None:
    facts = due("140600", 2025)
    assert calc.needs_history(facts, at("2025-03-10"))
    h = history(2025, 2021, *prior)
    d = calc.decide(facts, at("2025-03-10"), h)
    assert d.start == dt.date(2025, 3 + months, 10)
    assert d.basis["broken_years"] == len(prior) - 1
    assert [y["status"] for y in d.basis["history"]] == ["unpaid"] * (len(prior) - 1) + ["paid"]


def test_paid_back_years_shorten_the_variable_wait(calc: CoverageCalculator) -> None:
    # 2023 and 2024 broken; 2024 paid back in 2025-01 (after its coverage ended)
    h = history(2025, 2021, PriorYear(2024, True, 40000, at("2025-01-05")), unpaid(2023),
                paid(2022, "2021-12-01"))
    assert (h.broken_years, h.paid_back_years) == (2, 1)
    d = calc.decide(due("140600", 2025), at("2025-03-10"), h)
    assert d.start == dt.date(2025, 6, 10)  # 3 + (2 - 1) - 1
    assert [y["status"] for y in d.basis["history"]] == ["paid_back", "unpaid", "paid"]
    assert any(a.startswith("缴费修复") for a in d.basis["assumptions"])


def test_tengzhou_2025_assumes_the_national_rule(calc: CoverageCalculator) -> None:
    h = enrollment_history(2025, "370481", {2024: unpaid(2024), 2023: unpaid(2023)}, 2023)
    d = calc.decide(due("370481", 2025), at("2025-02-01"), h)
    # 2023 and 2024 broken, 2022 is before the first plan year payments holds: unknown
    assert (d.basis["broken_years"], d.start) == (2, dt.date(2025, 6, 1))
    assert d.basis["history"][-1]["status"] == "unknown"
    assert any(a.startswith("late_payment_national_2025: ") and "国家规定" in a
               for a in d.basis["assumptions"])  # the plan's assumption, in Chinese


def test_years_before_the_first_plan_year_are_unknown_and_assumed_continuous() -> None:
    h = history(2025, 2025)  # the system's first plan year in the region is this one
    assert h.broken_years == 0
    assert [y.status for y in h.years] == ["unknown"]
    assert h.years[0].note == "缴费服务掌握的地区 140600 首个方案年度为 2025：按连续参保计算"
    assert any("情况不明" in a and "连续参保" in a for a in h.assumptions)
    assert [y.status for y in history(2025, None).years] == ["unknown"]


def test_a_year_without_a_determination_stops_the_count() -> None:
    # 2024 broken, 2023 the person was not in our registers (moved in): assumed continuous
    h = history(2025, 2021, unpaid(2024), unpaid(2022))
    assert h.broken_years == 1
    assert [y.status for y in h.years] == ["unpaid", "unknown"]


def test_not_enrolled_and_nothing_due_years_count_as_continuous() -> None:
    stopped = history(2025, 2021, unpaid(2024), PriorYear(2023, False, 40000, None))
    assert stopped.broken_years == 1 and stopped.years[-1].status == "not_enrolled"
    free = history(2025, 2021, unpaid(2024, personal_fen=0))
    assert free.broken_years == 0 and free.years[0].status == "nothing_due"


def test_the_basis_explains_the_decision(calc: CoverageCalculator) -> None:
    h = history(2025, 2022, unpaid(2024), unpaid(2023))
    d = calc.decide(due("140600", 2025), at("2025-03-10"), h)
    b = d.basis
    assert b["coverage_start"] == "2025-07-10" and b["paid_on"] == "2025-03-10"
    assert b["first_known_year"] == 2022 and b["policy_version"]
    assert [y["status"] for y in b["history"]] == ["unpaid", "unpaid", "unknown"]
    assert "待遇等待期 4个月" in b["explanation"] and "断缴 2 年" in b["explanation"]


def test_proxy_payments_without_history_say_so(calc: CoverageCalculator) -> None:
    d = calc.decide(due("140600", 2025), at("2025-03-10"))
    assert d.start == dt.date(2025, 6, 10)
    assert any("未查询" in a for a in d.basis["assumptions"])


def test_a_payment_after_the_plan_year_is_closed(calc: CoverageCalculator) -> None:
    d = calc.decide(due("370481", 2025), at("2026-02-01"))
    assert d.start is None and d.basis["timing"] == "closed" and d.timing == "closed"
    assert "2025 年度已不再收取" in d.basis["explanation"]


def test_a_due_with_both_outcomes_is_decided_by_them(calc: CoverageCalculator) -> None:
    """Pingyin 三(三): the fallback proxy payment for 脱贫享受政策人口 only in the period."""
    facts = DueFacts(region_code="370124", plan_year=2025, insured_category="adult",
                     coverage_start=dt.date(2025, 1, 1), subsidized=True, birth_date=None,
                     standard_fen=44000, personal_fen=0, subsidies=(
                         {"rule_id": "lifted_out_fallback", "funding_source":
                          "rural_revitalization", "amount_fen": 44000},),
                     on_time_until=dt.date(2024, 12, 31), payable_until=dt.date(2025, 9, 30),
                     late={"personal_fen": 44000, "surcharge_fen": 0, "subsidies": [],
                           "insured_category": "adult"}, has_terms=True)
    on_time = calc.decide(facts, at("2024-12-31"))
    assert on_time.owed is not None and on_time.owed.subsidy_of("rural_revitalization") == 44000
    late = calc.decide(facts, at("2025-01-02"))
    assert late.owed is not None and late.owed.personal_fen == 44000 and not late.owed.subsidies
    assert late.start == dt.date(2025, 4, 1)
    assert calc.decide(facts, at("2025-10-01")).timing == "closed"  # after payable_until


def test_no_plan_file_falls_back_to_the_determination(calc: CoverageCalculator) -> None:
    d = calc.decide(due("999999", 2025), at("2025-05-01"))
    assert d.start == dt.date(2025, 1, 1) and d.basis["no_plan"] is True
    assert CoverageCalculator(None).start(due("370481", 2025), at("2025-05-01")) == \
        dt.date(2025, 1, 1)
