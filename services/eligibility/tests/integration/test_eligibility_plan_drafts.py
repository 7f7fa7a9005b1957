"""Simulating next year's draft against the plan in force, malformed draft YAML, and the
preview's refusals and scope warnings, through the HTTP API."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eligibility_helpers import new_id_number
from sqlalchemy import text

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.eligibility.app import create_app
from shared.db import make_engine

COUNTY, TOWNSHIP, N = "370481", "370481197000", 12  # a township no other test uses


@pytest.fixture(scope="module")
async def client(infra: TestInfra) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(infra.settings())
    async with engine.begin() as conn:
        for i in range(N):  # Tengzhou 2025: adults under 60, nobody subsidized
            pid = uuid.uuid4()
            await conn.execute(text(
                "INSERT INTO eligibility.persons (person_id, birth_date, county_code, "
                "township_code, village_code, revision) VALUES (:p, :b, :c, :t, NULL, 1)"),
                {"p": pid, "b": dt.date(1980 + i, 5, 1), "c": COUNTY, "t": TOWNSHIP})
            await conn.execute(text(
                "INSERT INTO eligibility.enrollments (person_id, plan_year, status, "
                "insured_category, registered_on, revision, county_code, township_code) "
                "VALUES (:p, 2025, 'registered', 'adult', '2024-10-08', 1, :c, :t)"),
                {"p": pid, "c": COUNTY, "t": TOWNSHIP})
    await engine.dispose()
    app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
    async with running_app(app) as c:
        yield c


def _next_year(plan: dict[str, Any]) -> dict[str, Any]:
    """Tengzhou 2025 moved to 2026 with a 420-yuan standard (a draft nobody has adopted)."""
    def shift(day: str) -> str:
        d = dt.date.fromisoformat(str(day))
        return d.replace(year=d.year + 1).isoformat()

    draft = dict(plan, plan_year=2026)
    periods = dict(plan["periods"])
    periods["collection"] = {**periods["collection"],
                             "start": shift(periods["collection"]["start"]),
                             "end": shift(periods["collection"]["end"])}
    periods["coverage"] = {**periods["coverage"], "start": "2026-01-01", "end": "2026-12-31"}
    draft["periods"] = periods
    draft["standards"] = [{**s, "yuan": "420"} for s in plan["standards"]]
    return draft


async def test_a_draft_for_next_year_is_compared_with_the_plan_in_force(client) -> None:
    """#11.12: a Tengzhou draft for 2026 (no 2026 plan in force) is compared with Tengzhou's
    2025 plan over the people enrolled for 2025, and the answer says so; every one of them
    pays 20 yuan more under a 420-yuan standard (2025 二(一) "2025年个人缴费标准为每人每年
    400元")."""
    current = (await client.get(f"/v1/plans/{COUNTY}/2025")).json()["content"]
    r = await client.post("/v1/simulations", json={"plan": _next_year(current)})
    assert r.status_code == 200, r.text
    sim = r.json()
    assert (sim["plan_year"], sim["current_plan_year"], sim["population_year"]) == (
        2026, 2025, 2025)
    assert "2026年度尚无在用方案" in sim["basis"] and "2025年度已登记参保" in sim["basis"]
    mine = next(t for t in sim["townships"] if t["township_code"] == TOWNSHIP)
    assert mine["draft"]["headcount"] == mine["current"]["headcount"] == N
    assert mine["draft"]["standard_fen"] - mine["current"]["standard_fen"] == N * 2000
    assert mine["difference"]["personal_fen"] == N * 2000
    # a draft for the plan year in force is still compared with that year's plan
    same = (await client.post("/v1/simulations", json={"plan": current})).json()
    assert (same["current_plan_year"], same["population_year"], same["basis"]) == (
        2025, 2025, None)


@pytest.mark.parametrize("plan,line", [
    ("region_code: '370481'\n? [a, b]\n: c\n", "第2行"),
    ("region_code: '370481'\nplan_year: 2026\nx: &a [*a]\n", "第3行"),
    ("periods:\n  collection:\n    start: 2025-02-30\n", "第3行"),
])
async def test_malformed_draft_yaml_answers_422_with_the_line(client, plan, line) -> None:
    """#12.7: YAML with complex keys (and other malformed YAML) answers 422 invalid_plan with
    the line and the reason in Chinese, never 500."""
    r = await client.post("/v1/simulations", json={"plan": plan})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_plan" and error["field"] == "plan"
    assert line in error["message"] and any(line in p for p in error["problems"])


async def test_preview_refuses_an_impossible_category_and_warns_outside_scope(client) -> None:
    """Pingyin 三(三) "驻济高校大学生…240元": a 10-year-old `student` answers 422 naming
    person.insured_category; Tengzhou 二(五) "征缴范围：具有枣庄市户籍…": a Beijing ID gets a
    warning in the answer."""
    r = await client.post("/v1/determinations/preview", json={
        "region_code": "370124", "plan_year": 2025,
        "person": {"birth_date": "2015-03-01", "insured_category": "student"}})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "person.insured_category"
    r = await client.post("/v1/determinations/preview", json={
        "region_code": "370481", "plan_year": 2025,
        "person": {"id_number": new_id_number("11010119850301123")}})
    assert r.status_code == 200 and len(r.json()["warnings"]) == 1
    assert "具有枣庄市户籍" in r.json()["warnings"][0]
