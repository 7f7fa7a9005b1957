"""Personal data in registration's reads: the birth date only for callers who may read the
full ID number, the one mask everywhere, audited lists of people; ID numbers in look-alike
digits never make a second person; control characters in names refused."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.registration.app import create_app
from shared.idnumber import check_character, mask_id_number

COUNTY = "370481"
TOWNSHIP = "370481001000"
VILLAGE = "370481001001"
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")

Token = Callable[..., dict[str, str]]


def new_id_number() -> str:
    day = dt.date(1950, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 20_000)
    first17 = f"{COUNTY}{day:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    return first17 + check_character(first17)


@pytest.fixture(scope="module")
async def api(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
              ) -> AsyncIterator[tuple[httpx.AsyncClient, Token]]:
    with auth_enabled(Path(tmp_path_factory.mktemp("keys"))) as bearer:
        def token(role: str | None, region: str = COUNTY, scopes: tuple[str, ...] = ()
                  ) -> dict[str, str]:
            department = "civil_affairs" if role == "department_officer" else None
            return bearer(sub=f"pii-test-{role or 'system'}", role=role, region=region,
                          scopes=scopes, department=department)

        app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
        async with running_app(app) as client:
            yield client, token


async def register(client: httpx.AsyncClient, token: Token, id_number: str | None = None,
                   **extra: Any) -> dict[str, Any]:
    id_number = id_number or new_id_number()
    r = await client.post("/v1/persons", headers=token("medical_insurance_officer"), json={
        "id_number": id_number, "name": "钱测试", "township_code": TOWNSHIP,
        "village_code": VILLAGE, **extra})
    assert r.status_code == 201, r.text
    return {**r.json(), "id_number": id_number}


async def count_persons(infra: TestInfra) -> int:
    conn = await asyncpg.connect(infra.database_url.replace("+asyncpg", ""))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM registration.persons"))
    finally:
        await conn.close()


def born(id_number: str) -> str:
    return f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"


async def test_the_birth_date_is_shown_only_to_who_may_read_the_full_number(api) -> None:  # noqa: ANN001
    client, token = api
    person = await register(client, token, household_no=f"H{uuid.uuid4().hex[:12]}")
    pid, number = person["person_id"], person["id_number"]
    assert person["household_id"]
    allowed = {"medical_insurance_officer": COUNTY, "township_staff": TOWNSHIP,
               "administrator": COUNTY}
    refused = {"supervisor": COUNTY}
    reads = [f"/v1/persons/{pid}", f"/v1/persons?village_code={VILLAGE}&limit=500",
             f"/v1/households/{person['household_id']}"]
    for role, region in {**allowed, **refused}.items():
        for url in reads:
            r = await client.get(url, headers=token(role, region))
            assert r.status_code == 200, (role, url, r.text)
            body = r.json()
            rows = body["items"] if "items" in body else body.get("members", [body])
            mine = next(p for p in rows if p["person_id"] == pid)
            assert mine["id_number_masked"] == mask_id_number(number) == \
                number[:6] + "*" * 11 + number[17]
            assert mine["birth_year"] == int(number[6:10])
            if role in allowed:
                assert mine["birth_date"] == born(number), (role, url)
            else:
                assert mine["birth_date"] is None, (role, url)
                assert born(number) not in r.text and number[6:14] not in r.text
    # the full-ID route agrees: the supervisor may not read it, the officer may
    assert (await client.get(f"/v1/persons/{pid}/id-number",
                             headers=token("supervisor"))).status_code == 403
    full = await client.get(f"/v1/persons/{pid}/id-number",
                            headers=token("medical_insurance_officer"))
    assert full.status_code == 200 and full.json()["id_number"] == number
    # a lookup by a department officer (it holds the number anyway) shows no birth date
    found = await client.post("/v1/persons/lookup", headers=token("department_officer"),
                              json={"id_number": number})
    assert found.status_code == 200 and found.json()["birth_date"] is None


async def test_the_village_list_is_audited_with_the_people_shown(api) -> None:  # noqa: ANN001
    client, token = api
    person = await register(client, token)
    admin = token("administrator", "000000")
    before = await client.get("/v1/audit?action=person.list_village&limit=1000", headers=admin)
    seen = {e["id"] for e in before.json()["items"]}
    r = await client.get(f"/v1/persons?village_code={VILLAGE}&limit=500",
                         headers=token("supervisor"))
    assert r.status_code == 200
    outside = await client.get("/v1/persons?village_code=370124001001",
                               headers=token("supervisor"))
    assert outside.status_code == 403
    after = await client.get("/v1/audit?action=person.list_village&limit=1000", headers=admin)
    new = [e for e in after.json()["items"] if e["id"] not in seen]
    assert len(new) == 2
    ok = next(e for e in new if e["outcome"] == "ok")
    assert ok["actor"] == "pii-test-supervisor" and ok["role"] == "supervisor"
    assert ok["details"]["village_code"] == VILLAGE
    assert ok["details"]["count"] == len(r.json()["items"])
    assert person["person_id"] in ok["details"]["person_ids"]
    assert person["id_number"] not in str(ok)
    assert any(e["outcome"] == "denied" for e in new)


async def test_unicode_digits_never_register_a_second_person(api, infra: TestInfra) -> None:  # noqa: ANN001
    client, token = api
    person = await register(client, token)
    number = person["id_number"]
    officer = token("medical_insurance_officer")
    before = await count_persons(infra)
    issue_style = number[0] + number[1:-1].translate(DEVANAGARI) + number[-1]
    for lookalike in (issue_style, number.translate(DEVANAGARI)):
        r = await client.post("/v1/persons", headers=officer, json={
            "id_number": lookalike, "name": "钱测试", "township_code": TOWNSHIP})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_id_number" and "id_number" in str(error)
        assert "只能包含半角数字0-9和X" in error["message"]
        lookup = await client.post("/v1/persons/lookup", headers=officer,
                                   json={"id_number": lookalike})
        assert lookup.status_code == 422
    fullwidth = number.translate(FULLWIDTH)
    again = await client.post("/v1/persons", headers=officer, json={
        "id_number": fullwidth, "name": "钱测试", "township_code": TOWNSHIP})
    assert again.status_code == 409 and again.json()["error"]["code"] == "person_exists"
    assert await count_persons(infra) == before
    found = await client.post("/v1/persons/lookup", headers=officer, json={"id_number": fullwidth})
    assert found.status_code == 200 and found.json()["person_id"] == person["person_id"]


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u200b", "\n"])
async def test_names_with_control_or_format_characters_are_refused(api, infra: TestInfra,  # noqa: ANN001
                                                                   char: str) -> None:
    client, token = api
    officer = token("medical_insurance_officer")
    before = await count_persons(infra)
    r = await client.post("/v1/persons", headers=officer, json={
        "id_number": new_id_number(), "name": "钱" + char + "测试", "township_code": TOWNSHIP})
    assert r.status_code == 422, r.text
    assert "name" in str(r.json()["error"])
    assert await count_persons(infra) == before
    person = await register(client, token)
    patch = await client.patch(f"/v1/persons/{person['person_id']}", headers=officer,
                               json={"name": "钱" + char + "测"})
    assert patch.status_code == 422
    newborn = await client.post("/v1/newborns", headers=officer, json={
        "name": "钱" + char + "宝", "id_number": new_id_number(),
        "parent_id_number": person["id_number"], "plan_year": 2025})
    assert newborn.status_code == 422 and "name" in str(newborn.json()["error"])


async def test_stored_masks_of_the_old_form_are_shown_in_the_new_form(  # noqa: ANN001
        api, infra: TestInfra) -> None:
    client, token = api
    person = await register(client, token)
    number = person["id_number"]
    conn = await asyncpg.connect(infra.database_url.replace("+asyncpg", ""))
    try:
        await conn.execute("UPDATE registration.persons SET id_number_masked = $2 WHERE id = $1",
                           uuid.UUID(person["person_id"]), number[:6] + "*" * 8 + number[14:])
    finally:
        await conn.close()
    r = await client.get(f"/v1/persons/{person['person_id']}", headers=token("supervisor"))
    assert r.json()["id_number_masked"] == number[:6] + "*" * 11 + number[17]
    assert number[14:17] not in r.json()["id_number_masked"]


async def test_the_lists_of_missing_and_duplicate_people_are_audited(api) -> None:  # noqa: ANN001
    client, token = api
    admin = token("administrator", "000000")
    for url, action in ((f"/v1/missing?village_code={VILLAGE}&plan_year=2025",
                         "persons.read_missing"),
                        ("/v1/duplicates?plan_year=2025", "persons.read_duplicates")):
        before = await client.get(f"/v1/audit?action={action}&limit=1000", headers=admin)
        seen = {e["id"] for e in before.json()["items"]}
        r = await client.get(url, headers=token("supervisor"))
        assert r.status_code == 200, r.text
        after = await client.get(f"/v1/audit?action={action}&limit=1000", headers=admin)
        new = [e for e in after.json()["items"] if e["id"] not in seen]
        assert [(e["actor"], e["outcome"]) for e in new] == [("pii-test-supervisor", "ok")]
