"""The HTTP contract: preview (DOMAIN.md worked examples), plans, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eligibility_helpers import new_id_number

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.eligibility.app import create_app


@pytest.fixture(scope="module")
async def client(infra: TestInfra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
    async with running_app(app) as c:
        yield c


def body(region: str, year: int, birth: str | None = None, *groups: str, **extra: object):
    person: dict[str, object] = {"groups": [{"code": g} for g in groups]}
    if birth:
        person["birth_date"] = birth
    person.update(extra.pop("person", {}))  # type: ignore[arg-type]
    return {"region_code": region, "plan_year": year, "person": person, **extra}


EXAMPLES = [
    (body("370481", 2025, "1980-06-01"), 40000, {}, 40000),
    (body("370481", 2025, "1961-06-01"), 40000, {"city_finance": 20000}, 20000),
    # 二(三)2 全面两孩政策实施前: a household certified in 2012
    (body("370481", 2025, "1961-06-01", person={"groups": [
        {"code": "family_planning_household", "certified_on": "2012-03-01"}]}), 40000,
     {"city_finance": 20000, "township_finance": 20000}, 0),
    (body("370481", 2025, "1995-06-01", "minimum_living_allowance"), 40000,
     {"medical_assistance_fund": 40000}, 0),
    (body("140600", 2025, "1985-06-01", "poverty_monitoring"), 40000,
     {"medical_assistance_fund": 28000}, 12000),
    (body("140600", 2025, "1985-06-01", "minimum_living_allowance"), 40000,
     {"medical_assistance_fund": 32000}, 8000),
    (body("370827", 2024, "1974-06-01", "low_income_margin"), 38000,
     {"medical_assistance_fund": 28000}, 10000),
    (body("370124", 2025, "2012-05-01"), 39000, {}, 39000),
]


@pytest.mark.parametrize("request_body,standard,lines,pays", EXAMPLES)
async def test_preview_worked_examples(client, request_body, standard, lines, pays) -> None:
    r = await client.post("/v1/determinations/preview", json=request_body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["standard_fen"] == standard
    got: dict[str, int] = {}
    for s in d["subsidies"]:
        got[s["funding_source"]] = got.get(s["funding_source"], 0) + s["amount_fen"]
    assert got == lines
    assert d["personal_fen"] == pays
    assert d["personal_fen"] + sum(got.values()) == d["standard_fen"] + d["surcharge_fen"]
    assert len(d["policy_version"]) == 64
    assert d["trace"] and all({"rule_id", "matched", "outcome", "reason"} <= t.keys()
                              for t in d["trace"])


async def test_preview_late_payer_and_trace(client) -> None:
    r = await client.post("/v1/determinations/preview",
                          json=body("370124", 2025, "1980-06-01", paid_on="2025-03-10"))
    d = r.json()
    assert (d["personal_fen"], d["coverage_start"]) == (44000, "2025-06-01")
    r = await client.post("/v1/determinations/preview",
                          json=body("370481", 2025, "1961-06-01", "minimum_living_allowance"))
    trace = {t["rule_id"]: t for t in r.json()["trace"]}
    won = [t for t in trace.values() if t["outcome"] == "won"]
    assert len(won) == 1 and won[0]["matched"]
    assert any(t["outcome"] == "lost" for t in trace.values())  # age 60-69 rule, beaten
    assert any(not t["matched"] for t in trace.values())


async def test_preview_answers_for_the_payment_date_through_owed_on(client) -> None:
    """Tengzhou 2021 二(三): on time 280, late 830 (280 + the 550 fiscal floor) covered 30
    days after paying; Tengzhou 2025 paid 2026-03-01: the year takes no payment (409)."""
    on_time = (await client.post("/v1/determinations/preview",
                                 json=body("370481", 2021, "1985-06-01"))).json()
    assert (on_time["timing"], on_time["personal_fen"], on_time["coverage_start"]) == (
        "on_time", 28000, "2021-01-01")
    assert on_time["on_time_until"] == "2020-12-20"
    assert on_time["late"]["personal_fen"] == 83000 and on_time["late"]["surcharge_fen"] == 55000
    late = (await client.post("/v1/determinations/preview",
                              json=body("370481", 2021, "1985-06-01", paid_on="2021-02-01"))).json()
    assert (late["timing"], late["personal_fen"], late["surcharge_fen"]) == ("late", 83000, 55000)
    assert late["coverage_start"] == "2021-03-03" and "二(三)" in late["explanation"]
    r = await client.post("/v1/determinations/preview",
                          json=body("370481", 2025, "1985-06-01", paid_on="2026-03-01"))
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "plan_year_closed" and err["payable_until"] == "2025-09-30"
    assert "2025 年度已不再收取" in err["message"]


async def test_preview_birth_date_from_id_number_and_county_under_city(client) -> None:
    r = await client.post("/v1/determinations/preview", json=body(
        "140623", 2025, None, "minimum_living_allowance",
        person={"id_number": new_id_number("14062319850601001")}))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["region_code"] == "140600"  # Shuozhou's plan covers its counties
    assert d["personal_fen"] == 8000


async def test_preview_errors(client) -> None:
    r = await client.post("/v1/determinations/preview", json=body("370481", 2019, "1980-01-01"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "plan_not_found"
    r = await client.post("/v1/determinations/preview", json=body("510100", 2025, "1980-01-01"))
    assert r.status_code == 404
    bad = new_id_number("37048119800101001")
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")
    r = await client.post("/v1/determinations/preview",
                          json=body("370481", 2025, None, person={"id_number": bad}))
    err = r.json()["error"]
    assert r.status_code == 422 and err["code"] == "invalid_id_number"
    assert err["field"] == "person.id_number" and "校验码" in err["message"]
    r = await client.post("/v1/determinations/preview",
                          json=body("370481", 2025, "1980-01-01", "low_income", ))
    err = r.json()["error"]
    assert r.status_code == 422 and err["field"] == "person.groups[0].code"
    assert err["code"] == "unknown_group_code"
    r = await client.post("/v1/determinations/preview", json=body("370481", 2025))
    err = r.json()["error"]
    assert r.status_code == 422 and err["field"] == "person.birth_date"


async def test_plans(client) -> None:
    r = await client.get("/v1/plans")
    plans = r.json()["plans"]
    active = {(p["region_code"], p["plan_year"]) for p in plans if p["active"]}
    assert {("370481", 2025), ("370481", 2021), ("370124", 2025), ("370827", 2024),
            ("140600", 2025)} <= active
    assert all(len(p["version"]) == 64 and p["source"]["issuer"] for p in plans)
    r = await client.get("/v1/plans/140623/2025")
    assert r.status_code == 200 and r.json()["region_code"] == "140600"
    assert r.json()["content"]["plan_year"] == 2025
    r = await client.get("/v1/plans/370481/2030")
    assert r.status_code == 404 and r.json()["error"]["code"] == "plan_not_found"
    r = await client.get("/v1/determinations/00000000-0000-0000-0000-000000000001/2025")
    assert r.status_code == 404
