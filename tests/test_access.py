"""Every role against every route of every service: who gets in, who gets 403, and that no
route was left without a rule. Region and department scopes, and the audit log of writes."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from devtools.testing.apps import every_page, running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from shared.auth import ROLES
from shared.idnumber import check_character

SERVICES = ("registration", "eligibility", "payments", "reporting")
PLACEHOLDERS = {
    "person_id": "00000000-0000-4000-8000-000000000000",
    "household_id": "00000000-0000-4000-8000-000000000000",
    "job_id": "00000000-0000-4000-8000-000000000000",
    "plan_year": "2025",
    "township_code": "370481001000",
    "region_code": "370481",
    "code": "370481",
    "department": "civil_affairs",
    "group_code": "orphan",
    "channel": "bank_ccb",
    "kind": "household_register",
}


def _url(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(1), "1"), template)


@pytest.fixture(scope="module")
async def secured(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[tuple[dict[str, FastAPI], dict[str, httpx.AsyncClient], callable]]:
    keys = tmp_path_factory.mktemp("keys")
    context = auth_enabled(Path(keys))
    bearer = context.__enter__()

    def token(role: str | None = None, region: str = "370481", department: str | None = None,
              scopes: tuple[str, ...] = ()) -> dict[str, str]:
        return bearer(sub=f"test-{role or 'system'}", role=role, region=region,
                      department=department, scopes=scopes)

    import importlib
    apps = {s: importlib.import_module(f"services.{s}.app").create_app(
        infra.settings(consumers_enabled=False, relay_enabled=False)) for s in SERVICES}
    clients: dict[str, httpx.AsyncClient] = {}
    contexts = []
    try:
        for name, app in apps.items():
            ctx = running_app(app)
            clients[name] = await ctx.__aenter__()
            contexts.append(ctx)
        yield apps, clients, token
    finally:
        for ctx in reversed(contexts):
            await ctx.__aexit__(None, None, None)
        context.__exit__(None, None, None)


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]
    if any(getattr(r, "path", None) == "/dashboard" for r in app.routes):
        found.append(("GET", "/dashboard"))
    return sorted(found)


async def test_every_route_has_a_rule_or_is_public(secured) -> None:  # noqa: ANN001
    apps, _, _ = secured
    for name, app in apps.items():
        control = app.state.access_control
        for method, path in _routes(app):
            if path in control.public_paths:
                continue
            assert (method, path) in control.rules, f"{name}: {method} {path} has no access rule"


async def test_every_role_against_every_route(secured) -> None:  # noqa: ANN001
    apps, clients, token = secured
    checked = 0
    for name, app in apps.items():
        control = app.state.access_control
        for method, path in _routes(app):
            if path in control.public_paths:
                continue
            rule = control.rules[(method, path)]
            url = _url(path)
            anonymous = await clients[name].request(method, url, json={})
            assert anonymous.status_code == 401, f"{name} {method} {path}: {anonymous.text}"
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            for role in sorted(ROLES):
                department = "civil_affairs" if role == "department_officer" else None
                r = await clients[name].request(method, url, json={},
                                                headers=token(role, department=department))
                denied = r.status_code == 403
                assert denied == (role not in rule.roles), (
                    f"{name} {method} {path} as {role}: {r.status_code} {r.text[:200]}")
                assert r.status_code < 500, f"{name} {method} {path} as {role}: {r.text[:300]}"
                checked += 1
    assert checked > 300


async def test_township_staff_see_only_their_township(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    staff = token("township_staff", region="370481002000")
    other = await clients["reporting"].get(
        "/v1/progress", params={"county_code": "370481", "plan_year": 2025}, headers=staff)
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_region"
    theirs = await clients["reporting"].get(
        "/v1/reminders", params={"village_code": "370481002001", "plan_year": 2025}, headers=staff)
    assert theirs.status_code != 403
    neighbour = await clients["reporting"].get(
        "/v1/reminders", params={"village_code": "370481001001", "plan_year": 2025}, headers=staff)
    assert neighbour.status_code == 403


async def test_a_department_uploads_only_its_own_lists(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    officer = token("department_officer", department="civil_affairs")
    r = await clients["registration"].post("/v1/lists/disabled_persons_federation/2025",
                                           headers=officer, files={"file": ("a.csv", b"x")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_department"


async def test_system_callers_need_the_scope(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    channel = token(None, region=None, scopes=("payments:bills",))
    assert (await clients["payments"].get("/v1/suspense", headers=channel)).status_code == 403
    r = await clients["payments"].post("/v1/bills/lookup",
                                       json={"id_number": "1" * 18, "plan_year": 2025},
                                       headers=channel)
    assert r.status_code != 403


async def test_writes_are_in_the_audit_log_and_only_administrators_read_it(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    admin = token("administrator")
    await clients["registration"].post("/v1/enrollments", json={"person_id": PLACEHOLDERS["person_id"],
                                       "plan_year": 2025}, headers=token("township_staff",
                                                                         region="370481001000"))
    log = await clients["registration"].get("/v1/audit", params={"action": "POST /v1/enrollments"},
                                            headers=admin)
    assert log.status_code == 200, log.text
    entry = log.json()["items"][0]
    assert entry["actor"] == "test-township_staff" and entry["role"] == "township_staff"
    assert entry["outcome"] in ("failed", "ok")
    assert (await clients["registration"].get("/v1/audit", headers=token("supervisor"))).status_code == 403


async def test_township_staff_register_people_only_in_their_township(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    staff = token("township_staff", region="370481002000")
    r = await clients["registration"].post("/v1/persons", headers=staff, json={
        "id_number": "370481198001010011", "name": "张三", "township_code": "370481001000"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_region"


# --- the full ID number ----------------------------------------------------------------------

TOWNSHIP_A, TOWNSHIP_B = "370481001000", "370481002000"
PINGYIN_PLAN = Path(__file__).resolve().parents[1] / "services/eligibility/policies/370124-2025.yaml"


def new_id_number_born(day: dt.date) -> str:
    first17 = f"370481{day:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    return first17 + check_character(first17)


def new_id_number() -> str:
    day = dt.date(1950, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 18_000)
    return new_id_number_born(day)


async def _register(clients, token, township: str = TOWNSHIP_A, **extra) -> tuple[str, str]:  # noqa: ANN001
    id_number = new_id_number()
    r = await clients["registration"].post("/v1/persons", headers=token("administrator",
                                           region="000000"), json={
        "id_number": id_number, "name": "赵测试", "township_code": township, **extra})
    assert r.status_code == 201, r.text
    return r.json()["person_id"], id_number


async def test_the_full_id_number_is_read_only_by_those_who_need_it_and_audited(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    person_id, id_number = await _register(clients, token)
    url = f"/v1/persons/{person_id}/id-number"
    reg = clients["registration"]

    bureau = await reg.get(url, headers=token("medical_insurance_officer", region="370481"))
    assert bureau.status_code == 200, bureau.text
    assert bureau.json()["id_number"] == id_number
    assert bureau.json()["id_number_masked"].startswith("370481****")
    assert bureau.headers["cache-control"] == "no-store"
    own_township = await reg.get(url, headers=token("township_staff", region=TOWNSHIP_A))
    assert own_township.status_code == 200 and own_township.json()["id_number"] == id_number

    # outside the caller's region: as if the person did not exist (and audited as denied)
    other_township = await reg.get(url, headers=token("township_staff", region=TOWNSHIP_B))
    assert other_township.status_code == 404
    assert other_township.json()["error"]["code"] == "person_not_found"
    assert id_number not in other_township.text
    other_county = await reg.get(url, headers=token("medical_insurance_officer", region="370124"))
    assert other_county.status_code == 404
    for role in ("supervisor", "tax_officer", "finance_officer"):
        r = await reg.get(url, headers=token(role))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role", role
    officer = await reg.get(url, headers=token("department_officer", department="civil_affairs"))
    assert officer.status_code == 403
    assert (await reg.get(url)).status_code == 401
    # why, in Chinese by default and in English on request (never both at once)
    public = f"/v1/persons/{person_id}"
    anonymous = await reg.get(public)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"] == "未能确认身份：需要 Authorization: Bearer 令牌"
    english = await reg.get(public, headers={"Accept-Language": "en"})
    assert english.json()["error"]["message"] == (
        "not authenticated: an Authorization: Bearer token is required")
    malformed = await reg.get(public, headers={"Authorization": "Bearer not-a-token"})
    assert malformed.status_code == 401
    assert not re.search(r"[A-Za-z]{4,}", malformed.json()["error"]["message"])
    # the person's other outputs stay masked, whoever asks
    detail = await reg.get(f"/v1/persons/{person_id}",
                           headers=token("medical_insurance_officer"))
    assert id_number not in detail.text

    # a nationwide administrator reads every region's entries (a county's only its own)
    log = await reg.get("/v1/audit", params={"action": "person.read_full_id", "limit": 1000},
                        headers=token("administrator", region="000000"))
    assert log.status_code == 200, log.text
    assert id_number not in log.text
    mine = [e for e in log.json()["items"] if e["resource"] == f"person/{person_id}"]
    seen = sorted((e["role"] or e["actor"], e["region"] or "", e["outcome"]) for e in mine)
    assert seen == sorted([
        ("medical_insurance_officer", "370481", "ok"),
        ("township_staff", TOWNSHIP_A, "ok"),
        ("township_staff", TOWNSHIP_B, "denied"),
        ("medical_insurance_officer", "370124", "denied"),
        ("supervisor", "370481", "denied"),
        ("tax_officer", "370481", "denied"),
        ("finance_officer", "370481", "denied"),
        ("department_officer", "370481", "denied"),
        ("anonymous", "", "denied"),
    ]), seen
    assert all(e["action"] == "person.read_full_id" for e in mine)
    missing = await reg.get(f"/v1/persons/{PLACEHOLDERS['person_id']}/id-number",
                            headers=token("medical_insurance_officer"))
    assert missing.status_code == 404


# --- region checks on what the body names ----------------------------------------------------

async def test_township_staff_act_only_on_people_of_their_township(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    reg = clients["registration"]
    person_id, id_number = await _register(
        clients, token, household_no=f"HH{uuid.uuid4().hex[:8]}", relation_to_head="户主")
    theirs, other = token("township_staff", region=TOWNSHIP_A), token("township_staff",
                                                                      region=TOWNSHIP_B)

    def refused(r: httpx.Response) -> bool:
        return r.status_code == 403 and r.json()["error"]["code"] == "forbidden_region"

    assert refused(await reg.post("/v1/enrollments", headers=other,
                                  json={"person_id": person_id, "plan_year": 2025}))
    assert (await reg.post("/v1/enrollments", headers=theirs,
                           json={"person_id": person_id, "plan_year": 2025})).status_code == 201
    assert refused(await reg.post(f"/v1/enrollments/{person_id}/2025/stop", headers=other,
                                  json={"status": "stopped", "reason": "moved_away"}))
    assert refused(await reg.patch(f"/v1/persons/{person_id}", headers=other,
                                   json={"school": "一中"}))
    # nor move one of theirs out of their township
    assert refused(await reg.patch(f"/v1/persons/{person_id}", headers=theirs,
                                   json={"township_code": TOWNSHIP_B}))
    assert (await reg.patch(f"/v1/persons/{person_id}", headers=theirs,
                            json={"school": "一中"})).status_code == 200
    newborn = {"name": "赵小宝", "id_number": new_id_number_born(dt.date.today()),
               "parent_id_number": id_number, "plan_year": dt.date.today().year}
    assert refused(await reg.post("/v1/newborns", headers=other, json=newborn))
    assert refused(await reg.post("/v1/students/upload", headers=other,
                                  data={"plan_year": "2025", "township_code": TOWNSHIP_A},
                                  files={"file": ("s.csv", "姓名,身份证号\n".encode())}))
    assert refused(await reg.post("/v1/regions/villages", headers=other,
                                  files={"file": ("v.csv", (
                                      "村名称,村代码,所属乡镇代码\n"
                                      f"测试村,{TOWNSHIP_A[:9]}977,{TOWNSHIP_A}\n").encode())}))
    department = token("department_officer", region="370124", department="civil_affairs")
    assert refused(await reg.put(f"/v1/persons/{person_id}/groups", headers=department,
                                 json={"group_code": "orphan"}))
    assert refused(await reg.delete(f"/v1/persons/{person_id}/groups/orphan",
                                    headers=department))


async def test_the_bureau_acts_only_within_its_county(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    county = token("medical_insurance_officer", region="370481")
    everything = await clients["registration"].post(
        "/v1/enrollments/rollover", headers=county, json={"from_year": 2098, "to_year": 2099})
    assert everything.status_code == 403
    elsewhere = await clients["registration"].post(
        "/v1/enrollments/rollover", headers=county,
        json={"from_year": 2098, "to_year": 2099, "county_code": "370124"})
    assert elsewhere.status_code == 403
    # plan years near today (a year without a plan far from today is refused, 422)
    ahead = dt.date.today().year + 3
    own = await clients["registration"].post(
        "/v1/enrollments/rollover", headers=county,
        json={"from_year": ahead - 1, "to_year": ahead, "county_code": "370481"})
    assert own.status_code == 200, own.text
    assert (await clients["registration"].post(
        "/v1/targets/2025/upload", headers=county, data={"county_code": "370124"},
        files={"file": ("t.csv", "乡镇代码,参保任务数\n370124001000,10\n".encode())})
    ).status_code == 403
    assert (await clients["eligibility"].post(
        "/v1/redeterminations", headers=county, json={"region_code": "370124", "plan_year": 2025})
    ).status_code == 403
    simulated = await clients["eligibility"].post(
        "/v1/simulations", headers=token("finance_officer", region="370481"),
        json={"plan": PINGYIN_PLAN.read_text(encoding="utf-8")})  # noqa: ASYNC240
    assert simulated.status_code == 403 and simulated.json()["error"]["code"] == "forbidden_region"


async def test_payments_and_reporting_act_only_on_people_of_the_callers_region(
        secured, infra: TestInfra) -> None:  # noqa: ANN001
    _, clients, token = secured
    person_id = uuid.uuid4()
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(
            """INSERT INTO payments.persons (person_id, id_number_hash, id_number_masked,
                   name_masked, county_code, township_code, revision)
               VALUES ($1, $2, '370481********0011', '赵*', '370481', $3, 1)""",
            person_id, uuid.uuid4().hex, TOWNSHIP_A)
        suspense_id = await conn.fetchval(
            """INSERT INTO payments.suspense (channel, channel_txn_id, kind, person_id,
                   plan_year, amount_fen, reason)
               VALUES ('bank_ccb', $1, 'payment', $2, 2025, 40000, 'no_open_order')
               RETURNING id""", f"T{uuid.uuid4().hex[:12]}", person_id)
        await conn.execute(
            """INSERT INTO reporting.persons (person_id, revision, county_code, township_code)
               VALUES ($1, 1, '370481', $2)""", person_id, TOWNSHIP_A)
    finally:
        await conn.close()
    batch = {"batch_no": f"B{uuid.uuid4().hex[:10]}", "budget_line": "city_finance",
             "plan_year": 2025, "declared_count": 1, "declared_total_fen": 100,
             "rows": [{"person_id": str(person_id), "amount_fen": 100}]}
    other = await clients["payments"].post("/v1/proxy-batches", json=batch,
                                           headers=token("finance_officer", region="370124"))
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_region"
    own = await clients["payments"].post("/v1/proxy-batches", json=batch,
                                         headers=token("finance_officer", region="370481"))
    assert own.status_code != 403, own.text
    resolve = await clients["payments"].post(
        f"/v1/suspense/{suspense_id}/resolve", json={"action": "refund"},
        headers=token("tax_officer", region="370124"))
    assert resolve.status_code == 403, resolve.text
    reason = await clients["reporting"].post(
        f"/v1/reminders/{person_id}/2025/reason", json={"reason": "worker_away"},
        headers=token("township_staff", region=TOWNSHIP_B))
    assert reason.status_code == 403, reason.text
    reason = await clients["reporting"].post(
        f"/v1/reminders/{person_id}/2025/reason", json={"reason": "worker_away"},
        headers=token("township_staff", region=TOWNSHIP_A))
    assert reason.status_code == 200, reason.text


# --- reads stop at the caller's region (404, as if absent), lists filter in SQL --------------

async def test_reads_of_people_stop_at_the_callers_region(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    reg = clients["registration"]
    household_no = f"HH{uuid.uuid4().hex[:8]}"
    person_a, id_a = await _register(clients, token, household_no=household_no,
                                     relation_to_head="户主")
    person_b, id_b = await _register(clients, token, TOWNSHIP_B, household_no=household_no,
                                     relation_to_head="子")
    admin = token("administrator", region="000000")
    for person in (person_a, person_b):
        assert (await reg.post("/v1/enrollments", headers=admin,
                               json={"person_id": person, "plan_year": 2025})).status_code == 201
    household = (await reg.get(f"/v1/persons/{person_a}", headers=admin)).json()["household_id"]
    township_a = token("township_staff", region=TOWNSHIP_A)
    township_b = token("township_staff", region=TOWNSHIP_B)
    county = token("medical_insurance_officer", region="370481")

    async def reads(headers: dict[str, str], person: str, id_number: str) -> dict[str, int]:
        return {
            "person": (await reg.get(f"/v1/persons/{person}", headers=headers)).status_code,
            "enrollment": (await reg.get(f"/v1/enrollments/{person}/2025",
                                         headers=headers)).status_code,
            "lookup": (await reg.post("/v1/persons/lookup", headers=headers,
                                      json={"id_number": id_number})).status_code,
            "id-number": (await reg.get(f"/v1/persons/{person}/id-number",
                                        headers=headers)).status_code,
        }

    allowed = {"person": 200, "enrollment": 200, "lookup": 200, "id-number": 200}
    refused = {"person": 404, "enrollment": 404, "lookup": 404, "id-number": 404}
    assert await reads(township_b, person_a, id_a) == refused
    assert await reads(township_a, person_a, id_a) == allowed
    assert await reads(township_a, person_b, id_b) == refused
    assert await reads(county, person_a, id_a) == allowed
    assert await reads(county, person_b, id_b) == allowed

    # the refusal is the answer for a person who does not exist: it confirms nothing
    outside = await reg.get(f"/v1/persons/{person_a}", headers=township_b)
    missing = await reg.get(f"/v1/persons/{PLACEHOLDERS['person_id']}", headers=township_b)
    assert outside.json() == missing.json() == {
        "error": {"code": "person_not_found", "message": "查无此人（或不在您的管辖范围内）"}}
    found = await reg.post("/v1/persons/lookup", headers=township_b, json={"id_number": id_a})
    assert found.json()["error"]["code"] == "person_not_found"
    assert TOWNSHIP_A not in found.text and person_a not in found.text

    # history: the bureau of another county sees nothing, the county's sees it
    other_county = token("medical_insurance_officer", region="370124")
    history = await reg.get(f"/v1/persons/{person_a}/history", headers=other_county)
    assert history.status_code == 404 and history.json()["error"]["code"] == "person_not_found"
    assert (await reg.get(f"/v1/persons/{person_a}/history", headers=county)).status_code == 200

    # a household shows each caller only its members of the caller's region
    def members(r: httpx.Response) -> set[str]:
        assert r.status_code == 200, r.text
        return {m["person_id"] for m in r.json()["members"]}

    url = f"/v1/households/{household}"
    assert members(await reg.get(url, headers=township_a)) == {person_a}
    assert members(await reg.get(url, headers=township_b)) == {person_b}
    assert members(await reg.get(url, headers=county)) == {person_a, person_b}
    elsewhere = await reg.get(url, headers=token("township_staff", region="370481003000"))
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "household_not_found"


async def test_determinations_are_read_only_within_the_callers_region(
        secured, infra: TestInfra) -> None:  # noqa: ANN001
    _, clients, token = secured
    person_id = uuid.uuid4()
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(
            """INSERT INTO eligibility.persons (person_id, birth_date, county_code,
                   township_code, village_code, revision)
               VALUES ($1, '1980-01-01', '370481', $2, NULL, 1)""", person_id, TOWNSHIP_A)
        await conn.execute(
            """INSERT INTO eligibility.pending_plans (person_id, plan_year, county_code)
               VALUES ($1, 2099, '370481')""", person_id)
    finally:
        await conn.close()
    url = f"/v1/determinations/{person_id}/2099"
    eligibility = clients["eligibility"]
    other = await eligibility.get(url, headers=token("township_staff", region=TOWNSHIP_B))
    assert other.status_code == 404, other.text
    assert other.json()["error"]["code"] == "determination_not_found"
    for headers in (token("township_staff", region=TOWNSHIP_A),
                    token("medical_insurance_officer", region="370481"),
                    token(None, region=None, scopes=("eligibility:read",))):
        r = await eligibility.get(url, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["pending_plan"]["county_code"] == "370481"


async def test_payments_lists_show_only_people_of_the_callers_region(
        secured, infra: TestInfra) -> None:  # noqa: ANN001
    _, clients, token = secured
    here, there = uuid.uuid4(), uuid.uuid4()  # in 370481 and in 370124
    conn = await asyncpg.connect(infra.database_url)
    try:
        for person, county, township in ((here, "370481", TOWNSHIP_A),
                                         (there, "370124", "370124001000")):
            await conn.execute(
                """INSERT INTO payments.persons (person_id, id_number_hash, id_number_masked,
                       name_masked, county_code, township_code, revision)
                   VALUES ($1, $2, '370481********0011', '赵*', $3, $4, 1)""",
                person, uuid.uuid4().hex, county, township)
        refunds, suspense = {}, {}
        for person in (there, here, there):  # an outside row first: paging must not stop at it
            refunds.setdefault(person, []).append(await conn.fetchval(
                """INSERT INTO payments.refunds (person_id, plan_year, due_revision, paid_fen,
                       amount_fen, reason)
                   VALUES ($1, 2025, $2, 40000, 100, 'test') RETURNING id""",
                person, len(refunds.get(person, [])) + 1))
            suspense.setdefault(person, []).append(await conn.fetchval(
                """INSERT INTO payments.suspense (channel, channel_txn_id, kind, person_id,
                       plan_year, amount_fen, reason)
                   VALUES ('bank_ccb', $1, 'payment', $2, 2025, 100, 'no_open_order')
                   RETURNING id""", f"T{uuid.uuid4().hex[:12]}", person))
        # matched (by staff) to a person in 370124: that person's region counts too
        matched = await conn.fetchval(
            """INSERT INTO payments.suspense (channel, channel_txn_id, kind, person_id,
                   plan_year, amount_fen, reason, status, resolution)
               VALUES ('bank_ccb', $1, 'payment', NULL, 2025, 100, 'no_open_order',
                       'resolved', $2::jsonb) RETURNING id""",
            f"T{uuid.uuid4().hex[:12]}",
            f'{{"action": "match-to-person", "person_id": "{there}"}}')
    finally:
        await conn.close()
    pay = clients["payments"]

    async def ids(path: str, headers: dict[str, str], **params: object) -> list[int]:
        key = "suspense_id" if path == "/v1/suspense" else "id"
        return [row[key] for row in await every_page(pay, path, headers=headers,
                                                     **{"limit": 1000, **params})]

    ours, theirs = token("tax_officer", region="370481"), token("tax_officer", region="370124")
    nationwide = token("tax_officer", region="000000")
    for path, made in (("/v1/refunds", refunds), ("/v1/suspense", suspense)):
        mine = await ids(path, ours)
        assert set(made[here]) <= set(mine) and not set(made[there]) & set(mine), path
        other = await ids(path, theirs)
        assert set(made[there]) <= set(other) and not set(made[here]) & set(other), path
        assert set(made[here] + made[there]) <= set(await ids(path, nationwide)), path
        # filtered before paging: page after page of one row each gives the whole list
        assert await ids(path, theirs, limit=1) == other, path
    resolved = await ids("/v1/suspense", ours, status="resolved")
    assert matched not in resolved
    assert matched in await ids("/v1/suspense", theirs, status="resolved")


# --- departments act only for themselves -----------------------------------------------------

async def test_a_department_certifies_and_revokes_only_its_own_groups(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    reg = clients["registration"]
    person_id, _ = await _register(clients, token)
    url = f"/v1/persons/{person_id}/groups"
    civil = token("department_officer", department="civil_affairs")
    disabled = token("department_officer", department="disabled_persons_federation")
    bureau = token("medical_insurance_officer")

    def refused(r: httpx.Response) -> bool:
        return r.status_code == 403 and r.json()["error"]["code"] == "forbidden_department"

    # not for another department, nor a group another department certifies
    assert refused(await reg.put(url, headers=civil, json={
        "group_code": "orphan", "department": "disabled_persons_federation"}))
    assert refused(await reg.put(url, headers=civil, json={"group_code": "severe_disability"}))
    # its own: the department defaults to the officer's
    r = await reg.put(url, headers=civil, json={"group_code": "orphan"})
    assert r.status_code == 200, r.text
    assert refused(await reg.delete(f"{url}/orphan", headers=disabled))
    assert (await reg.delete(f"{url}/orphan", headers=civil)).status_code == 204
    # a membership the bureau recorded for another department is not the officer's to change
    r = await reg.put(url, headers=bureau, json={"group_code": "low_income_margin",
                                                 "department": "rural_revitalization"})
    assert r.status_code == 200, r.text
    assert refused(await reg.delete(f"{url}/low_income_margin", headers=civil))
    assert refused(await reg.put(url, headers=civil, json={"group_code": "low_income_margin"}))
    # departments are named by their codes (aliases allowed)
    unknown = await reg.put(url, headers=bureau, json={"group_code": "orphan",
                                                       "department": "ministry_of_magic"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_department"
