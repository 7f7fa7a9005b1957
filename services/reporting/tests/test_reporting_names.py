"""Villages are shown by the names registration published for them, wherever a person reads
them: publicity and reminder lists, funding applications, progress rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from devtools.testing.plans import seed_catalog
from services.reporting.lists import service as lists
from services.reporting.progress import service as progress
from services.reporting.projections.handlers import router
from services.reporting.regions import Region
from services.reporting.tests import factories as f

PLANS = seed_catalog()  # what reporting holds from eligibility.plan.v1 events

YEAR = 2025


async def test_village_names_from_registration_are_shown(
        rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    county = f.new_county()
    village, township = f"{county}001001", f"{county}001000"
    paid, owing = f.new_id(), f.new_id()
    events = [f.event("registration.village_added.v1", {
        "code": village, "township_code": township, "county_code": county, "name": "东关村"},
        key=village)]
    for pid in (paid, owing):
        events += [f.person(pid, village=village), f.enrollment(pid, YEAR, village=village),
                   f.determination(pid, YEAR, village=village,
                                   subsidies=[("county_finance", "x", 10000)])]
    events.append(f.payment(paid, YEAR, village=village, amount_fen=30000))
    before = await lists.publicity_list(session, Region.of(village), YEAR, plans=PLANS)
    for ev in events:
        await router(session, ev)
    assert before["village_name"] == village  # unknown until registration names it
    pub = await lists.publicity_list(session, Region.of(village), YEAR, plans=PLANS)
    assert pub["village_name"] == "东关村" and pub["region_name"].endswith("东关村")
    rem = await lists.reminder_list(session, Region.of(township), YEAR)
    assert {r["village_name"] for r in rem["rows"]} == {"东关村"}
    apps = await lists.funding_application(session, Region.of(county), YEAR, None,
                                           include_persons=True, plans=PLANS)
    assert {p["village_name"] for p in apps["persons"]} == {"东关村"}
    rows = (await progress.progress(session, region=Region.of(township), plan_year=YEAR,
                                    plans=PLANS))["rows"]
    assert [(r["code"], r["name"]) for r in rows] == [(village, "东关村")]
