"""The pure person-year rules (projections/state.py): paid means the whole due is covered, and
each part counts for whoever paid it."""

from __future__ import annotations

import datetime as dt

from services.reporting.projections.state import (
    DeterminationFacts,
    EnrollmentFacts,
    Outcome,
    PaymentFacts,
    PersonFacts,
    contributions,
    derive,
)

YEAR = 2025
V = "370481001001"
T = "370481001000"
WHERE = (YEAR, "370481", T)
KEY = (*WHERE, V)


def enrollment(category: str = "adult") -> EnrollmentFacts:
    return EnrollmentFacts("registered", category, "370481", T, V)


def determination(personal: int, lines: tuple[tuple[str, str, int], ...] = (),
                  late: Outcome | None = None) -> DeterminationFacts:
    return DeterminationFacts(True, "adult", "370481", T, V, lines, personal_fen=personal,
                              on_time_until=dt.date(2024, 12, 31), late=late)


def pay(amount: int, *, payer: str = "person", source: str | None = None,
        timing: str | None = None, day: int = 1, month: int = 12, kind: str = "paid"
        ) -> PaymentFacts:
    at = dt.datetime(2024, month, day, 10, tzinfo=dt.UTC)
    return PaymentFacts(kind, payer, amount, at, "370481", T, V, source, timing)


# Tengzhou 2025: a 64-year-old owes 200 of 400; the city pays the other 200 (city_finance),
# which puts them in the band of people the government pays for.
AGE_64 = determination(20000, (("city_finance", "age_60_69", 20000),),
                       late=Outcome(83000, ()))
SENIOR = PersonFacts(dt.date(1961, 3, 1), "370481", T, V)


def test_city_half_paid_own_part_owed_is_not_paid() -> None:
    py = derive(YEAR, SENIOR, enrollment(), AGE_64,
                [pay(20000, payer="government", source="city_finance")])
    assert py is not None and not py.settled
    assert (py.owed_person_fen, py.owed_government_fen, py.owed_fen) == (20000, 0, 20000)
    c = contributions(YEAR, py)
    assert c.progress[(*KEY, "subsidized", "settled")] == 0
    assert c.progress[(*KEY, "subsidized", "paid_government")] == 1
    assert c.progress[(*KEY, "subsidized", "paid_government_fen")] == 20000
    assert c.progress[(*KEY, "subsidized", "paid_person")] == 0
    assert not c.daily
    # the city's line is paid even though the person is not
    assert c.funding[(*WHERE, "city_finance", "age_60_69", "paid_headcount")] == 1


def test_own_part_paid_city_half_unpaid_is_not_paid() -> None:
    py = derive(YEAR, SENIOR, enrollment(), AGE_64, [pay(20000)])
    assert py is not None and not py.settled
    assert (py.owed_person_fen, py.owed_government_fen) == (0, 20000)
    c = contributions(YEAR, py)
    assert c.progress[(*KEY, "subsidized", "settled")] == 0
    assert c.progress[(*KEY, "subsidized", "paid_person")] == 1
    assert c.funding[(*WHERE, "city_finance", "age_60_69", "paid_headcount")] == 0


def test_both_parts_paid_is_paid_and_counted_once_per_payer() -> None:
    py = derive(YEAR, SENIOR, enrollment(), AGE_64, [
        pay(20000, day=1), pay(20000, payer="government", source="city_finance", day=20)])
    assert py is not None and py.settled and py.owed_fen == 0
    assert py.settled_on == dt.date(2024, 12, 20)  # the day the last part arrived
    c = contributions(YEAR, py)
    got = {k[-1]: v for k, v in c.progress.items()}
    assert got == {"registered": 1, "settled": 1, "paid_person": 1, "paid_person_fen": 20000,
                   "paid_government": 1, "paid_government_fen": 20000}
    assert dict(c.daily) == {(*WHERE, dt.date(2024, 12, 20), "paid"): 1}


def test_a_refunded_part_is_no_longer_paid() -> None:
    py = derive(YEAR, SENIOR, enrollment(), AGE_64, [
        pay(20000, kind="refunded"), pay(20000, payer="government", source="city_finance")])
    assert py is not None and not py.settled and py.owed_person_fen == 20000
    assert contributions(YEAR, py).progress[(*KEY, "subsidized", "paid_person")] == 0


def test_newborn_owing_nothing_is_settled_without_payment() -> None:
    baby = PersonFacts(dt.date(2025, 2, 1), "370481", T, V)
    py = derive(YEAR, baby, enrollment("minor"), determination(0), [])
    assert py is not None and py.settled and py.owed_fen == 0 and py.settled_on is None
    c = contributions(YEAR, py)
    assert c.progress[(*KEY, "newborn", "settled")] == 1
    assert c.progress[(*KEY, "newborn", "paid_person")] == 0 and not c.daily


def test_a_late_payment_owes_the_late_outcome() -> None:
    """Tengzhou 2021: a latecomer pays the full cost including every subsidy (830 yuan)."""
    plan = determination(28000, (("medical_assistance_fund", "hardship", 12000),),
                         late=Outcome(83000, ()))
    unpaid = derive(YEAR, SENIOR, enrollment(), plan, [])
    assert unpaid is not None and unpaid.owed_fen == 40000 and unpaid.owed_late_fen == 83000
    part = derive(YEAR, SENIOR, enrollment(), plan, [pay(28000, timing="late", month=12)])
    assert part is not None and not part.settled
    assert (part.owed_person_fen, part.owed_government_fen) == (55000, 0)
    assert part.subsidies == ()  # no subsidy line for a latecomer
    full = derive(YEAR, SENIOR, enrollment(), plan, [pay(83000, timing="late")])
    assert full is not None and full.settled
    # timing absent (older events) = on time: the on-time outcome applies
    on_time = derive(YEAR, SENIOR, enrollment(), plan, [pay(28000)])
    assert on_time is not None and on_time.owed_government_fen == 12000


def test_government_money_without_budget_line_pays_open_lines_in_order() -> None:
    plan = determination(0, (("medical_assistance_fund", "a", 30000),
                             ("county_finance", "b", 10000)))
    py = derive(YEAR, SENIOR, enrollment(), plan, [pay(35000, payer="government")])
    assert py is not None and not py.settled
    assert py.subsidies == (("medical_assistance_fund", "a", 30000, 30000),
                            ("county_finance", "b", 10000, 5000))
    assert py.owed_government_fen == 5000


def test_a_budget_line_pays_only_its_own_lines() -> None:
    plan = determination(0, (("medical_assistance_fund", "a", 30000),
                             ("county_finance", "b", 10000)))
    py = derive(YEAR, SENIOR, enrollment(), plan,
                [pay(30000, payer="government", source="county_finance")])
    assert py is not None
    assert py.subsidies == (("medical_assistance_fund", "a", 30000, 0),
                            ("county_finance", "b", 10000, 10000))
    assert py.owed_government_fen == 30000 and not py.settled


def test_stopped_enrollment_is_never_settled() -> None:
    stopped = EnrollmentFacts("stopped", "adult", "370481", T, V)
    py = derive(YEAR, SENIOR, stopped, determination(0), [])
    assert py is not None and not py.settled
    assert not [k for k in contributions(YEAR, py).progress if k[-1] == "settled"]
