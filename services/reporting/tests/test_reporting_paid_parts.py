"""Paid means the whole due is covered; each part counts for whoever paid it, and progress,
publicity, reminders, funding applications and the fund summary agree. City-wide progress sums
the city's counties."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from devtools.testing.plans import seed_catalog
from services.reporting.funds.service import fund_summary
from services.reporting.lists import service as lists
from services.reporting.progress import service as progress
from services.reporting.projections.handlers import router
from services.reporting.regions import Region
from services.reporting.tests import factories as f
from shared.events import CloudEvent

PLANS = seed_catalog()  # what reporting holds from eligibility.plan.v1 events

YEAR = 2025
AS_OF = dt.date(2024, 12, 10)


async def apply(session: AsyncSession, events: list[CloudEvent]) -> None:
    for ev in events:
        await router(session, ev)


async def snapshot(session: AsyncSession, village: str) -> dict[str, Any]:
    """Everything the five outputs say about the village (and its county)."""
    region, county = Region.of(village), Region.of(village[:6])
    prog = await progress.progress(session, region=county, plan_year=YEAR, as_of=AS_OF,
                                   plans=PLANS)
    pub = await lists.publicity_list(session, region, YEAR, plans=PLANS)
    rem = await lists.reminder_list(session, region, YEAR, as_of=AS_OF)
    fund = await fund_summary(session, YEAR, county, plans=PLANS)
    apps = await lists.funding_application(session, county, YEAR, None, include_persons=True,
                                           as_of=AS_OF, plans=PLANS)
    return {"totals": prog["totals"], "publicity": pub, "reminders": rem,
            "fund": fund["totals"], "funding": apps}


def delta(after: dict[str, Any], before: dict[str, Any], *keys: str) -> dict[str, int]:
    return {k: (after[k] or 0) - (before[k] or 0) for k in keys}


async def test_own_part_and_city_half_are_each_counted_for_their_payer(
        rolled_back_session: AsyncSession) -> None:
    """Tengzhou 2025 (age 60-69: the city pays 200 of 400): the city's proxy payment alone
    leaves the person owing 200 and on the reminder list; with their own 200 they are paid,
    listed as two rows, once per payer, and every output agrees."""
    session = rolled_back_session
    village = f"{f.new_county()}001001"
    pid = f.new_id()
    await apply(session, [
        f.person(pid, village=village, birth_date="1961-03-01"),
        f.enrollment(pid, YEAR, village=village),
        f.determination(pid, YEAR, village=village,
                        subsidies=[("city_finance", "age_60_69", 20000)],
                        late={"personal_fen": 83000, "surcharge_fen": 43000, "subsidies": []},
                        on_time_until="2024-12-31"),
    ])
    before = await snapshot(session, village)
    await apply(session, [f.payment(pid, YEAR, village=village, order_no=f"PB-{pid[:8]}",
                                    payer="government", amount_fen=20000,
                                    funding_source="city_finance", timing="on_time",
                                    paid_at="2024-12-05T10:00:00+08:00")])
    half = await snapshot(session, village)
    assert delta(half["totals"], before["totals"], "paid", "paid_person", "paid_government",
                 "paid_government_fen") == {"paid": 0, "paid_person": 0, "paid_government": 1,
                                            "paid_government_fen": 20000}
    assert half["publicity"]["rows"] == before["publicity"]["rows"] == []
    owed = {r["person_id"]: r for r in half["reminders"]["rows"]}[pid]
    assert (owed["owed_fen"], owed["owed_person_fen"], owed["owed_government_fen"]) == (
        20000, 20000, 0)
    assert owed["situation"] == "registered"

    await apply(session, [f.payment(pid, YEAR, village=village, amount_fen=20000,
                                    timing="on_time", paid_at="2024-12-08T10:00:00+08:00")])
    paid = await snapshot(session, village)
    assert delta(paid["totals"], before["totals"], "paid", "paid_person", "paid_government",
                 "paid_person_fen", "paid_government_fen") == {
        "paid": 1, "paid_person": 1, "paid_government": 1, "paid_person_fen": 20000,
        "paid_government_fen": 20000}
    assert [(r["payer_name"], r["amount_yuan"], r["paid_on"])
            for r in paid["publicity"]["rows"]] == [("个人缴费", "200.00", "2024-12-08"),
                                                     ("政府代缴", "200.00", "2024-12-05")]
    assert paid["publicity"]["count"] == 1
    assert pid not in {r["person_id"] for r in paid["reminders"]["rows"]}
    assert delta(paid["fund"], before["fund"], "insured", "personal_contributions_fen",
                 "government_proxy_payments_fen", "personal_payers",
                 "government_paid_for") == {
        "insured": 1, "personal_contributions_fen": 20000,
        "government_proxy_payments_fen": 20000, "personal_payers": 1, "government_paid_for": 1}
    city = {b["budget_line"]: b for b in paid["funding"]["by_budget_line"]}["city_finance"]
    assert (city["headcount"], city["amount_fen"], city["paid_headcount"]) == (1, 20000, 1)
    assert [p["paid"] for p in paid["funding"]["persons"]] == [True]


async def test_own_part_paid_city_half_missing_is_not_paid_nor_reminded(
        rolled_back_session: AsyncSession) -> None:
    """Own part paid, government part unpaid: not paid anywhere; not on the reminder list (the
    person owes nothing of their own); the funding application lists the line as unpaid."""
    session = rolled_back_session
    village = f"{f.new_county()}001001"
    pid = f.new_id()
    await apply(session, [
        f.person(pid, village=village, birth_date="1961-03-01"),
        f.enrollment(pid, YEAR, village=village),
        f.determination(pid, YEAR, village=village,
                        subsidies=[("city_finance", "age_60_69", 20000)]),
        f.payment(pid, YEAR, village=village, amount_fen=20000),
    ])
    got = await snapshot(session, village)
    assert (got["totals"]["paid"], got["totals"]["paid_person"]) == (0, 1)
    assert got["publicity"]["rows"] == []
    assert pid not in {r["person_id"] for r in got["reminders"]["rows"]}
    assert got["funding"]["persons"][0]["paid"] is False


async def test_newborn_owing_nothing_is_paid_and_never_reminded(
        rolled_back_session: AsyncSession) -> None:
    """Shuozhou: a newborn registered in time owes nothing (personal 0, no subsidy line)."""
    session = rolled_back_session
    village = f"{f.new_county()}001001"
    baby, adult = f.new_id(), f.new_id()
    await apply(session, [
        f.person(baby, village=village, birth_date="2025-02-01"),
        f.enrollment(baby, YEAR, village=village, category="minor"),
        f.determination(baby, YEAR, village=village, standard_fen=0, category="minor",
                        late=None, on_time_until="2025-05-01"),
        f.person(adult, village=village),
        f.enrollment(adult, YEAR, village=village),
        f.determination(adult, YEAR, village=village),
    ])
    got = await snapshot(session, village)
    assert {r["person_id"] for r in got["reminders"]["rows"]} == {adult}
    assert (got["totals"]["registered"], got["totals"]["paid"]) == (2, 1)
    assert got["publicity"]["rows"] == []  # nothing was paid, nothing to publicise


async def test_reminder_amount_is_the_late_one_after_the_on_time_days(
        rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    village = f"{f.new_county()}001001"
    pid = f.new_id()
    await apply(session, [
        f.person(pid, village=village), f.enrollment(pid, YEAR, village=village),
        f.determination(pid, YEAR, village=village, standard_fen=28000,
                        late={"personal_fen": 83000, "surcharge_fen": 55000, "subsidies": []},
                        on_time_until="2024-12-31"),
    ])
    on_time = await lists.reminder_list(session, Region.of(village), YEAR,
                                        as_of=dt.date(2024, 12, 31))
    late = await lists.reminder_list(session, Region.of(village), YEAR,
                                     as_of=dt.date(2025, 1, 1))
    assert [(r["owed_fen"], r["owed_basis"]) for r in on_time["rows"]] == [(28000, "on_time")]
    assert [(r["owed_fen"], r["owed_basis"]) for r in late["rows"]] == [(83000, "late")]


async def test_city_progress_sums_its_counties(rolled_back_session: AsyncSession) -> None:
    """A city code (Shuozhou 140600 style) answers with one row per county of the city, and
    nothing of another city."""
    session = rolled_back_session
    stem = f"9{random.randint(10, 99)}"
    city, other = f"{stem}{random.randint(0, 9)}00", f"{stem}{random.randint(0, 9)}00"
    while other == city:
        other = f"{stem}{random.randint(0, 9)}00"
    a, b, elsewhere = city[:4] + "01", city[:4] + "02", other[:4] + "01"
    events: list[CloudEvent] = []
    for county, paid in ((a, 2), (b, 1), (elsewhere, 3)):
        village = f"{county}001001"
        events.append(f.target(f"{county}001000", YEAR, 5))
        for i in range(3):
            pid = f.new_id()
            events += [f.enrollment(pid, YEAR, village=village),
                       f.determination(pid, YEAR, village=village)]
            if i < paid:
                events.append(f.payment(pid, YEAR, village=village))
    before = await progress.progress(session, region=Region.of(city), plan_year=YEAR,
                                     as_of=AS_OF, plans=PLANS)
    await apply(session, events)
    data = await progress.progress(session, region=Region.of(city), plan_year=YEAR,
                                   as_of=AS_OF, plans=PLANS)
    assert data["level"] == "county" and data["rank"] == "city"
    rows = {r["code"]: (r["registered"], r["paid"], r["target"]) for r in data["rows"]}
    assert rows == {a: (3, 2, 5), b: (3, 1, 5)}
    assert delta(data["totals"], before["totals"], "registered", "paid", "target") == {
        "registered": 6, "paid": 3, "target": 10}
    county = await progress.progress(session, region=Region.of(a), plan_year=YEAR, as_of=AS_OF,
                                     plans=PLANS)
    assert county["level"] == "township" and county["totals"]["paid"] == 2
