"""Plans at run time (#16), over real HTTP, Postgres and the Kafka protocol: the seed plans
published at first start and received by payments and reporting; a new region-year drafted,
refused when bad (every error at once), refused when its author approves it, approved by a
second officer, published, used by a determination within seconds and by payments and
reporting through `eligibility.plan.v1`; a correction that re-determines and refunds."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.infra import create_database
from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.cli_plans import build_parser, run
from services.eligibility.app import create_app as eligibility_app
from services.eligibility.plans.registry import beijing_today
from services.payments.app import create_app as payments_app
from services.reporting.app import create_app as reporting_app
from shared.db import make_engine
from shared.events import CloudEvent
from shared.kafka import make_producer
from shared.migrations import upgrade_all
from shared.topics import PAYMENTS_PAYMENT, REGISTRATION_ENROLLMENT, REGISTRATION_PERSON

COUNTY, TOWNSHIP, YEAR = "370481", "370481198000", 2026  # a township no other test uses
OFFICER = {"role": "medical_insurance_officer", "region": COUNTY}


class World:
    def __init__(self, eligibility: httpx.AsyncClient, engine: AsyncEngine, apps: dict[str, Any],
                 bearer: Callable[..., dict[str, str]], infra: TestInfra, settings: Any) -> None:
        self.eligibility = eligibility
        self.engine = engine
        self.apps = apps
        self.bearer = bearer
        self.infra = infra
        self.settings = settings
        self.a = bearer(sub="officer-a", **OFFICER)
        self.b = bearer(sub="officer-b", **OFFICER)

    async def scalar(self, sql: str, **params: object) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()

    async def send(self, topic: str, event: CloudEvent) -> None:
        producer = make_producer(self.settings)
        await producer.start()
        try:
            key, value, headers = event.to_kafka()
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()


async def eventually(check: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        got = await check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def world(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                ) -> AsyncIterator[World]:
    # a database of its own: the registry's first start (seed plans published) is tested
    url = await create_database(infra.database_url, f"canbao_plans_{uuid.uuid4().hex[:8]}",
                                drop_first=True)
    await asyncio.to_thread(upgrade_all, url)
    settings = infra.settings(database_url=url)
    with auth_enabled(Path(tmp_path_factory.mktemp("plan-keys"))) as bearer:
        apps = {"eligibility": eligibility_app(settings), "payments": payments_app(settings),
                "reporting": reporting_app(settings)}
        async with AsyncExitStack() as stack:
            clients = {n: await stack.enter_async_context(running_app(a))
                       for n, a in apps.items()}
            engine = make_engine(settings)
            try:
                yield World(clients["eligibility"], engine, apps, bearer, infra, settings)
            finally:
                await engine.dispose()


def person_event(pid: uuid.UUID, birth: str, county: str = COUNTY) -> CloudEvent:
    return CloudEvent(source="canbao/registration", type="registration.person_registered.v1",
                      partitionkey=str(pid), data={
        "person_id": str(pid), "revision": 1, "birth_date": birth, "sex": "male",
        "id_number_hash": f"plans-{pid}", "id_number_masked": "370481***********6",
        "name_masked": "张*",
        "county_code": county, "township_code": county + TOWNSHIP[6:], "village_code": None,
        "household_id": None})


def enrollment_event(pid: uuid.UUID, county: str = COUNTY) -> CloudEvent:
    return CloudEvent(source="canbao/registration", type="registration.enrollment_registered.v1",
                      partitionkey=str(pid), data={
        "person_id": str(pid), "plan_year": YEAR, "status": "registered", "reason": None,
        "insured_category": "adult", "county_code": county,
        "township_code": county + TOWNSHIP[6:], "village_code": None,
        "registered_on": "2025-10-08", "revision": 1})


def payment_event(pid: uuid.UUID, amount_fen: int) -> CloudEvent:
    return CloudEvent(source="canbao/payments", type="payments.payment_received.v1",
                      partitionkey=str(pid), data={
        "person_id": str(pid), "plan_year": YEAR, "order_no": f"CB{pid.hex[:14]}",
        "channel": "wechatpay", "channel_txn_id": "t", "kind": "paid", "payer": "person",
        "amount_fen": amount_fen, "paid_at": "2025-11-01T02:00:00+00:00",
        "coverage_start": "2026-01-01", "county_code": COUNTY, "township_code": TOWNSHIP,
        "village_code": None, "revision": 1})


def next_year(plan: dict[str, Any], elderly_percent: str = "50") -> dict[str, Any]:
    """Tengzhou 2025 carried to 2026: 420 yuan, collection in the autumn of 2025."""
    draft = dict(plan, plan_year=YEAR)
    draft["source"] = {**plan["source"], "issued_on": "2025-10-18"}
    periods = dict(plan["periods"])
    periods["collection"] = {**periods["collection"], "start": "2025-10-01",
                             "end": "2025-12-31"}
    periods["coverage"] = {**periods["coverage"], "start": "2026-01-01", "end": "2026-12-31"}
    draft["periods"] = periods
    quote = "二(一): 2026年个人缴费标准为每人每年420元"
    draft["standards"] = [{**s, "yuan": "420", "source": quote} for s in plan["standards"]]
    rules = []
    for rule in plan["subsidy_rules"]:
        if rule["id"] == "elderly_60_69":
            share = {**rule["shares"][0], "percent": elderly_percent,
                     "source": f"二(三)1: 60岁（含60岁）-69岁老年人，个人缴费部分由市财政承担"
                               f"{elderly_percent}%"}
            rule = {**rule, "shares": [share]}
        rules.append(rule)
    draft["subsidy_rules"] = rules
    return draft


async def upload(world: World, plan: Any, who: dict[str, str]) -> httpx.Response:
    return await world.eligibility.post("/v1/plans/drafts", json={"plan": plan}, headers=who)


async def test_seed_plans_are_published_at_first_start_and_received(world: World) -> None:
    """The five seed files become five publications of the registry (by 'seed') and reach
    payments' and reporting's own tables as eligibility.plan.v1 events."""
    assert await world.scalar("SELECT count(*) FROM eligibility.plan_publications "
                              "WHERE published_by = 'seed'") == 5
    for schema in ("payments", "reporting"):
        await eventually(lambda s=schema: world.scalar(
            f"SELECT count(DISTINCT (region_code, plan_year)) = 5 FROM {s}.plans"))
    r = await world.eligibility.get(f"/v1/plans/{COUNTY}/2025/history", headers=world.a)
    assert r.status_code == 200, r.text
    [first] = r.json()["publications"]
    assert (first["published_by"], first["in_force"], first["effective_on"]) == (
        "seed", True, "2024-10-18")


async def test_a_bad_draft_is_refused_with_every_error_at_once(world: World) -> None:
    """Schema errors (a float amount, an unknown field, a non-integer priority) come back
    together, each with its YAML line and field in Chinese; a draft that passes the schema
    but quotes no figure for a share and overlaps the previous year's collection period is
    refused with both problems."""
    current = (await world.eligibility.get(f"/v1/plans/{COUNTY}/2025", headers=world.a)).json()
    text_ = yaml.safe_dump(next_year(current["content"]), allow_unicode=True, sort_keys=False)
    bad = (text_.replace("yuan: '420'", "yuan: 420.5", 1)
           .replace("plan_year: 2026", "plan_year: 2026\nbogus: 1", 1)
           .replace("priority: 21", "priority: x", 1))
    r = await upload(world, bad, world.a)
    assert r.status_code == 422, r.text
    problems = r.json()["error"]["problems"]
    fields = {p["field"] for p in problems}
    assert {"bogus", "standards[0].yuan", "subsidy_rules[2].priority"} <= fields
    assert all(p["line"] and p["severity"] == "error" for p in problems)
    assert "不认识的字段" in next(p["text"] for p in problems if p["field"] == "bogus")
    # past the schema: a share that quotes no figure, and collection overlapping 2025's
    plan = next_year(current["content"], elderly_percent="60")
    plan["subsidy_rules"][2]["shares"][0]["source"] = "二(三)1: 由市财政承担一部分"
    plan["periods"]["collection"]["start"] = "2024-12-01"
    r = await upload(world, yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), world.a)
    assert r.status_code == 422, r.text
    problems = {p["field"]: p for p in r.json()["error"]["problems"]}
    assert "60%" in problems["subsidy_rules[2].shares[0].source"]["message"]
    assert "重叠" in problems["periods.collection.start"]["message"]
    assert problems["periods.collection.start"]["line"] is not None
    assert await world.scalar("SELECT count(*) FROM eligibility.plan_drafts "
                              "WHERE plan_year = 2026 AND author = 'officer-a'") == 0


async def test_a_new_year_used_within_seconds_by_eligibility_payments_reporting(
        world: World) -> None:
    """A 2026 plan for Tengzhou drafted by officer A: A cannot approve it (four eyes), B does,
    A publishes it; a person waiting for a 2026 plan is determined under it within seconds
    (60-69: city pays 50 % of 420), and payments and reporting hold it through the event."""
    old, young = uuid.uuid4(), uuid.uuid4()
    for pid, birth in ((old, "1961-03-01"), (young, "1990-05-01")):
        await world.send(REGISTRATION_PERSON, person_event(pid, birth))
        await world.send(REGISTRATION_ENROLLMENT, enrollment_event(pid))

    async def waiting() -> bool:
        r = await world.eligibility.get(f"/v1/determinations/{old}/{YEAR}", headers=world.a)
        return r.status_code == 200 and r.json()["pending_plan"] is not None
    await eventually(waiting)

    current = (await world.eligibility.get(f"/v1/plans/{COUNTY}/2025", headers=world.a)).json()
    r = await upload(world, next_year(current["content"]), world.a)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["author"] == "officer-a" and draft["status"] == "draft"
    assert any("400.00元 改为 420.00元" in d["text"] for d in draft["diff"])
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/approve",
                                     headers=world.a)
    assert r.status_code == 403 and r.json()["error"]["code"] == "four_eyes", r.text
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/publish", json={},
                                     headers=world.a)
    assert r.status_code == 409, r.text  # not approved
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/approve",
                                     headers=world.b)
    assert r.status_code == 200 and r.json()["approved_by"] == "officer-b", r.text
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/publish", json={},
                                     headers=world.a)
    assert r.status_code == 200, r.text
    published = r.json()
    assert published["correction"] is False

    async def determined(pid: uuid.UUID) -> dict[str, Any] | None:
        r = await world.eligibility.get(f"/v1/determinations/{pid}/{YEAR}", headers=world.a)
        current = r.json().get("current") if r.status_code == 200 else None
        return current if current and current["policy_version"] == draft["version"] else None
    assert (await eventually(lambda: determined(old), 10))["personal_fen"] == 21000
    assert (await eventually(lambda: determined(young), 10))["personal_fen"] == 42000

    coverage = world.apps["payments"].state.payments.coverage
    reporting_plans = world.apps["reporting"].state.plans

    async def held() -> bool:
        p = coverage.policy(COUNTY, YEAR)
        q = reporting_plans.catalog.find(COUNTY, YEAR)
        return p is not None and q is not None and p.version == q.version == draft["version"]
    await eventually(held, 10)
    history = (await world.eligibility.get(f"/v1/plans/{COUNTY}/{YEAR}/history",
                                           headers=world.b)).json()["publications"]
    assert [(h["author"], h["approved_by"], h["published_by"], h["in_force"])
            for h in history] == [("officer-a", "officer-b", "officer-a", True)]
    actions = {r[0]: r[1] for r in (await _audit(world, draft["id"], published))}
    assert actions == {"plan.upload": "officer-a", "plan.approve": "officer-b",
                       "plan.publish": "officer-a"}


async def test_a_new_region_is_used_within_seconds(world: World) -> None:
    """A region with no plan at all (枣庄市山亭区 370406, drafted by officers of the city
    370400 from Tengzhou's text): its waiting resident is determined within seconds of the
    publication, and payments and reporting hold the plan through the event."""
    city = {"role": "medical_insurance_officer", "region": "370400"}
    a, b = world.bearer(sub="city-a", **city), world.bearer(sub="city-b", **city)
    pid = uuid.uuid4()
    await world.send(REGISTRATION_PERSON, person_event(pid, "1990-05-01", county="370406"))
    await world.send(REGISTRATION_ENROLLMENT, enrollment_event(pid, county="370406"))

    async def waiting() -> bool:
        r = await world.eligibility.get(f"/v1/determinations/{pid}/{YEAR}", headers=a)
        return r.status_code == 200 and r.json()["pending_plan"] is not None
    await eventually(waiting)
    tengzhou = (await world.eligibility.get(f"/v1/plans/{COUNTY}/2025", headers=a)).json()
    plan = dict(next_year(tengzhou["content"]), region_code="370406", region_name="山亭区")
    assert (await upload(world, plan, world.a)).status_code == 403  # outside Tengzhou
    r = await upload(world, plan, a)
    assert r.status_code == 201, r.text
    assert r.json()["diff"][0]["text"].endswith("这是第一版")
    draft_id = r.json()["id"]
    assert (await world.eligibility.post(f"/v1/plans/drafts/{draft_id}/approve",
                                         headers=b)).status_code == 200
    started = asyncio.get_running_loop().time()
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft_id}/publish", json={},
                                     headers=a)
    assert r.status_code == 200, r.text

    async def determined() -> int | None:
        r = await world.eligibility.get(f"/v1/determinations/{pid}/{YEAR}", headers=a)
        current = r.json().get("current") if r.status_code == 200 else None
        return current["personal_fen"] if current else None
    assert await eventually(determined, 10) == 42000
    assert asyncio.get_running_loop().time() - started < 10
    coverage = world.apps["payments"].state.payments.coverage
    reporting_plans = world.apps["reporting"].state.plans

    async def held() -> bool:
        return coverage.policy("370406", YEAR) is not None and \
            reporting_plans.catalog.find("370406", YEAR) is not None
    await eventually(held, 10)


async def _is(get: Callable[[], Any], value: Any) -> bool:
    return await get() == value


async def _audit(world: World, draft_id: str, published: dict[str, Any]) -> list[Any]:
    async with world.engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT action, actor FROM eligibility.audit_log WHERE action LIKE 'plan.%' "
            "AND outcome = 'ok' AND (resource = :d OR details->>'publication' = :p)"),
            {"d": f"plan_draft/{draft_id}", "p": str(published["publication"])})).all()


async def test_a_correction_redetermines_and_refunds(world: World) -> None:
    """Mid-campaign, the city's share for 60-69 goes from 50 % to 60 %: publishing the
    corrected 2026 plan re-determines the region (the 65-year-old now owes 168 yuan, not 210),
    the person who paid 210 has 42 yuan refund due, and payments records that refund."""
    pid = uuid.uuid4()
    await world.send(REGISTRATION_PERSON, person_event(pid, "1960-07-01"))
    await world.send(REGISTRATION_ENROLLMENT, enrollment_event(pid))
    first = await world.scalar("SELECT max(id) FROM eligibility.plan_publications "
                               "WHERE region_code = :r AND plan_year = :y", r=COUNTY, y=YEAR)
    assert first is not None, "runs after the new-year test"

    async def owes() -> int | None:
        r = await world.eligibility.get(f"/v1/determinations/{pid}/{YEAR}", headers=world.a)
        cur = r.json().get("current") if r.status_code == 200 else None
        return cur["personal_fen"] if cur else None
    assert await eventually(owes) == 21000
    await world.send(PAYMENTS_PAYMENT, payment_event(pid, 21000))
    await eventually(lambda: world.scalar(
        "SELECT count(*) FROM eligibility.payment_entries WHERE person_id = :p", p=pid))

    current = (await world.eligibility.get(f"/v1/plans/{COUNTY}/2025", headers=world.a)).json()
    r = await upload(world, next_year(current["content"], elderly_percent="60"), world.b)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert any("市财政由 50% 改为 60%" in d["text"] and "210.00元 改为 252.00元" in d["text"]
               for d in draft["diff"]), draft["diff"]
    # simulated before approval: the person who owes 210 would owe 168, in the file too
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/simulation",
                                     headers=world.a)
    assert r.status_code == 200, r.text
    sim = r.json()
    mine = next(x for x in sim["people"] if x["person_id"] == str(pid))
    assert (mine["current_personal_fen"], mine["draft_personal_fen"]) == (21000, 16800)
    assert sim["people_changed"] == len(sim["people"]) >= 1
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/simulation?format=csv",
                                     headers=world.a)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"{pid},{TOWNSHIP},21000,16800,-4200" in r.text
    assert "filename*=UTF-8''" + quote(f"方案草案测算-{COUNTY}-{YEAR}年度-") in r.headers["content-disposition"]
    assert (await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/approve",
                                         headers=world.a)).status_code == 200
    r = await world.eligibility.post(f"/v1/plans/drafts/{draft['id']}/publish", json={},
                                     headers=world.b)
    assert r.status_code == 200 and r.json()["correction"] is True, r.text
    correction = r.json()["publication"]
    await eventually(lambda: _is(owes, 16800))
    job = await eventually(lambda: world.scalar(
        "SELECT redetermination_job FROM eligibility.plan_publications WHERE id = :id",
        id=correction))
    assert job > 0
    refund = await eventually(lambda: world.scalar(
        "SELECT amount_fen FROM payments.refunds WHERE person_id = :p", p=pid))
    assert refund == 4200
    # the change report: owes 42 yuan less, 42 refunded, the city pays 42 more for them
    r = await world.eligibility.get(
        f"/v1/plans/{COUNTY}/{YEAR}/publications/{correction}/changes", headers=world.a)
    assert r.status_code == 200, r.text
    report = r.json()
    mine = next(x for x in report["people"] if x["person_id"] == str(pid))
    assert (mine["difference_fen"], mine["refund_due_fen"], mine["budget_lines"]) == (
        -4200, 4200, {"city_finance": 4200})
    changed = [x for x in report["people"]]
    assert report["owe_less"]["amount_fen"] == -sum(x["difference_fen"] for x in changed)
    assert report["refunds"] == {"headcount": 1, "amount_fen": 4200}
    assert report["budget_lines"]["city_finance"]["added_fen"] == 4200 * len(changed)
    assert report["redetermination"]["status"] in ("running", "done", "queued")
    args = build_parser(argparse.ArgumentParser()).parse_args(
        ["changes", COUNTY, str(YEAR), str(correction)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.apps["eligibility"]),
                                 base_url="http://test", headers=world.b) as client:
        assert await run(args, client) == 0
    # and the earlier version can be published again (a new publication, not an edit)
    r = await world.eligibility.post(f"/v1/plans/{COUNTY}/{YEAR}/republish",
                                     json={"publication": first}, headers=world.a)
    assert r.status_code == 200 and r.json()["republished_from"] == first, r.text
    await eventually(lambda: _is(owes, 21000))
    versions = await world.scalar(
        "SELECT count(DISTINCT version) FROM eligibility.plan_publications "
        "WHERE region_code = :r AND plan_year = :y", r=COUNTY, y=YEAR)
    assert versions == 2


async def test_the_cli_starts_next_year_and_keeps_four_eyes(world: World, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             ) -> None:
    """`canbao plans new --from 370481-2026 --year 2027` writes a plan whose periods moved a
    year and whose figures and quotes are marked 待核对; uploaded by officer A through the CLI,
    A's approval is refused (exit 1, four_eyes) and B's is taken; `history` lists it."""
    app = world.apps["eligibility"]

    async def cli(who: dict[str, str], *argv: str) -> int:
        args = build_parser(argparse.ArgumentParser()).parse_args(list(argv))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test", headers=who) as client:
            return await run(args, client)

    path = tmp_path / "370481-2027.yaml"
    assert await cli(world.a, "new", "--from", f"{COUNTY}-{YEAR}", "--year", "2027",
                     "-o", str(path)) == 0
    written = path.read_text(encoding="utf-8")
    assert "plan_year: 2027" in written and "start: '2026-10-01'  # 待核对" in written
    assert "yuan: '420'  # 待核对" in written
    capsys.readouterr()
    assert await cli(world.a, "upload", str(path)) == 0
    out = capsys.readouterr().out
    draft_id = out.split("草案 ", 1)[1].split("：", 1)[0]
    assert await cli(world.a, "approve", draft_id) == 1
    assert "four_eyes" in capsys.readouterr().out
    assert await cli(world.b, "approve", draft_id) == 0
    tomorrow = beijing_today() + dt.timedelta(days=1)
    assert await cli(world.b, "publish", draft_id, "--on", tomorrow.isoformat()) == 0
    assert await cli(world.a, "history", COUNTY, "2027") == 0
    out = capsys.readouterr().out
    assert "批准 officer-b" in out and "（在用）" not in out  # in force from tomorrow
    r = await world.eligibility.get(f"/v1/plans/{COUNTY}/2027", headers=world.a)
    assert r.status_code == 404
    registry = app.state.plans
    async with world.engine.connect() as conn:
        changed = await registry.refresh(conn, today=tomorrow)
    assert [(c[0], c[1]) for c in changed] == [(COUNTY, 2027)]
    assert registry.find(COUNTY, 2027) is not None
