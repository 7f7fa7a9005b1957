"""The registration campaign against the real database, through the API: regions,
persons and households, scope checks, rollover, certified lists, newborns, students,
targets, reference data, bulk import, and refusals of bad uploads. The relay and consumers
are off: events are checked as the outbox rows they are written as, not on the broker."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.registration.app import create_app
from shared.idnumber import check_character

TOWNSHIP = "370481001000"  # 滕州市 荆河街道
VILLAGE = "370481001201"
_used: set[str] = set()


def new_id_number(birth: str = "19800101", region: str = "370481") -> str:
    """A valid ID number not used before in this session: same birth date, random sequence
    (other tests share the database)."""
    while True:
        first17 = f"{region}{birth}{random.randint(100, 999)}"
        value = first17 + check_character(first17)
        if value not in _used:
            _used.add(value)
            return value


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


@pytest.fixture(scope="module")
async def client(infra: TestInfra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False),
                     max_upload_bytes=2_000_000)
    async with running_app(app) as c:
        yield c


async def scalar(infra: TestInfra, sql: str, **params: object) -> object:
    engine = create_async_engine(infra.settings().async_database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


async def register(client: httpx.AsyncClient, name: str, id_number: str | None = None,
                   **extra: object) -> dict:
    body = {"id_number": id_number or new_id_number(), "name": name, "township_code": TOWNSHIP,
            "village_code": VILLAGE, **extra}
    r = await client.post("/v1/persons", json=body)
    assert r.status_code == 201, r.text
    return {**r.json(), "id_number": body["id_number"]}


async def test_registration_regions_and_villages(client: httpx.AsyncClient,
                                                 infra: TestInfra) -> None:
    county = await client.get("/v1/regions/370481")
    assert county.status_code == 200 and county.json()["name"] == "滕州市"
    towns = await client.get("/v1/regions/370481/children", params={"limit": 5})
    assert len(towns.json()["items"]) == 5 and towns.json()["next_cursor"]
    rest = await client.get("/v1/regions/370481/children",
                            params={"cursor": towns.json()["next_cursor"], "limit": 100})
    assert len(rest.json()["items"]) >= 16
    upload = csv_bytes([["村代码", "村名称", "所属乡镇代码"], [VILLAGE, "善国村", TOWNSHIP],
                        ["370481001202", "北关村", TOWNSHIP]], "gbk")
    r = await client.post("/v1/regions/villages", files={"file": ("村.csv", upload)})
    assert r.status_code == 200 and r.json() == {**r.json(), "status": "applied", "added": 2}
    # published for the services that show villages by name (reporting)
    assert await scalar(infra, "SELECT data->>'name' FROM registration.outbox WHERE "
                        "event_type = 'registration.village_added.v1' AND partition_key = :v",
                        v=VILLAGE) == "善国村"
    again = await client.post("/v1/regions/villages", files={"file": ("村.csv", upload)})
    assert again.json()["status"] == "unchanged"
    village = await client.get(f"/v1/regions/{VILLAGE}")
    assert village.json()["name"] == "善国村" and village.json()["parent_code"] == TOWNSHIP
    children = await client.get(f"/v1/regions/{TOWNSHIP}/children")
    assert VILLAGE in [c["code"] for c in children.json()["items"]]
    bad = await client.post("/v1/regions/villages", files={"file": ("v.csv", csv_bytes(
        [["村代码", "村名称", "所属乡镇代码"], ["370481999201", "无村", "370481999000"]]))})
    assert bad.status_code == 422 and bad.json()["error"]["error_report_id"]


async def test_registration_household_history_and_search(client: httpx.AsyncClient,
                                                          infra: TestInfra) -> None:
    head = await register(client, "孙大山", household_no="H-1001", relation_to_head="户主",
                          phone="13800001111")
    spouse = await register(client, "周小梅", household_no="H-1001", relation_to_head="配偶")
    assert head["household_id"] == spouse["household_id"]
    household = await client.get(f"/v1/households/{head['household_id']}")
    body = household.json()
    assert body["head_person_id"] == head["person_id"]
    assert {m["name_masked"] for m in body["members"]} == {"孙*山", "周*梅"}
    assert head["id_number"] not in household.text and "13800001111" not in household.text
    changed = await client.patch(f"/v1/persons/{spouse['person_id']}",
                                 json={"name": "周晓梅", "residence_permit": True})
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    history = (await client.get(f"/v1/persons/{spouse['person_id']}/history")).json()["items"]
    assert [h["revision"] for h in history] == [1, 2]
    assert history[1]["changes"]["name"] == {"from": "周*梅", "to": "周*梅"}
    assert history[1]["changes"]["residence_permit"] == {"from": False, "to": True}
    events = await scalar(infra, "SELECT count(*) FROM registration.outbox WHERE "
                          "event_type = 'registration.person_changed.v1' AND partition_key = :p",
                          p=spouse["person_id"])
    assert events == 1
    found = await client.get("/v1/persons", params={"village_code": VILLAGE, "name": "孙大山"})
    assert [p["person_id"] for p in found.json()["items"]] == [head["person_id"]]
    page1 = (await client.get("/v1/persons", params={"village_code": VILLAGE, "limit": 1})).json()
    page2 = (await client.get("/v1/persons", params={"village_code": VILLAGE, "limit": 1,
                                                     "cursor": page1["next_cursor"]})).json()
    assert page1["items"][0]["person_id"] != page2["items"][0]["person_id"]


async def test_registration_scope_and_rollover(client: httpx.AsyncClient, infra: TestInfra) -> None:
    outsider = await register(client, "钱多多", new_id_number(region="110101"),
                              hukou_region_code="110101")
    refused = await client.post("/v1/enrollments", json={"person_id": outsider["person_id"],
                                                         "plan_year": 2024})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "out_of_scope"
    await client.patch(f"/v1/persons/{outsider['person_id']}", json={"residence_permit": True})
    ok = await client.post("/v1/enrollments", json={"person_id": outsider["person_id"],
                                                    "plan_year": 2024})
    assert ok.status_code == 201, ok.text
    employee = await register(client, "吴工人")
    listing = csv_bytes([["姓名", "身份证号", "单位名称", "参保状态"],
                         ["吴工人", employee["id_number"], "某公司", "参保缴费"]])
    r = await client.post("/v1/reference/employee_insurance", files={"file": ("e.csv", listing)})
    assert r.status_code == 200 and r.json()["rows"] == 1
    twice = await client.post("/v1/enrollments", json={"person_id": employee["person_id"],
                                                       "plan_year": 2024})
    assert twice.json()["error"]["code"] == "in_employee_scheme"
    local = await register(client, "郑本地")
    assert (await client.post("/v1/enrollments", json={
        "person_id": local["person_id"], "plan_year": 2024})).status_code == 201
    stop = await client.post(f"/v1/enrollments/{outsider['person_id']}/2024/stop",
                             json={"status": "stopped", "reason": "moved_away"})
    assert stop.json()["status"] == "stopped" and stop.json()["revision"] == 2
    rolled = await client.post("/v1/enrollments/rollover",
                               json={"from_year": 2024, "to_year": 2025, "county_code": "370481"})
    assert rolled.status_code == 200 and rolled.json()["enrolled"] >= 1
    e = await client.get(f"/v1/enrollments/{local['person_id']}/2025")
    assert e.json()["status"] == "registered"
    assert (await client.get(f"/v1/enrollments/{outsider['person_id']}/2025")).status_code == 404
    again = await client.post("/v1/enrollments/rollover",
                              json={"from_year": 2024, "to_year": 2025, "county_code": "370481"})
    assert again.json()["enrolled"] == 0
    from services.registration.commands import rollover

    assert await rollover(infra.settings(), 2024, 2025, "370481") == 0


async def test_registration_certified_lists(client: httpx.AsyncClient, infra: TestInfra) -> None:
    people = [await register(client, name) for name in ("冯一", "陈二", "褚三")]
    header = ["姓名", "身份证号", "类别", "认定日期"]
    v1 = csv_bytes([header, ["冯一", people[0]["id_number"], "低保对象", "2024-03-01"],
                    ["陈二", people[1]["id_number"], "特困人员", "2024年5月2日"]], "gbk")
    r = await client.post("/v1/lists/civil_affairs/2025", files={"file": ("低保.csv", v1)})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied" and r.json()["version"]["added"] == 2
    same = await client.post("/v1/lists/civil_affairs/2025", files={"file": ("低保.csv", v1)})
    assert same.json()["status"] == "unchanged" and same.json()["version"]["version_no"] == 1
    v2 = csv_bytes([header, ["冯一", people[0]["id_number"], "低保对象", "2024-03-01"],
                    ["褚三", people[2]["id_number"], "低保边缘", "2024-06-01"]])
    r2 = await client.post("/v1/lists/civil_affairs/2025", params={"version": "final"},
                           files={"file": ("final.csv", v2)})
    v = r2.json()["version"]
    assert (v["version_no"], v["kind"], v["added"], v["removed"]) == (2, "final", 1, 1)
    removed = await scalar(infra, "SELECT count(*) FROM registration.outbox WHERE event_type = "
                           "'registration.group_membership_removed.v1' AND partition_key = :p",
                           p=people[1]["person_id"])
    assert removed == 1
    groups = await scalar(infra, "SELECT count(*) FROM registration.group_memberships "
                          "WHERE person_id = :p", p=people[1]["person_id"])
    assert groups == 0
    summary = (await client.get("/v1/lists/civil_affairs/2025")).json()
    assert [x["version_no"] for x in summary["versions"]] == [1, 2]
    bad = csv_bytes([header, ["冯二", people[0]["id_number"], "低保对象", ""],
                     ["某人", "370481800101001", "低保对象", ""],
                     ["某人", people[1]["id_number"], "重度残疾人", ""]])
    refused = await client.post("/v1/lists/civil_affairs/2025", files={"file": ("bad.csv", bad)})
    assert refused.status_code == 422
    err = refused.json()["error"]
    codes = {e["code"] for e in err["errors"]}
    assert {"name_mismatch", "bad_id_number", "category_not_allowed"} <= codes
    assert people[0]["id_number"] not in refused.text
    report = await client.get(f"/v1/lists/error-reports/{err['error_report_id']}")
    assert report.status_code == 200 and "15位" in report.content.decode("utf-8-sig")
    xlsx = await client.get(f"/v1/lists/error-reports/{err['error_report_id']}",
                            params={"format": "xlsx"})
    assert xlsx.content[:2] == b"PK"
    assert unquote(xlsx.headers["content-disposition"].split("filename*=UTF-8''")[1]) == (
        f"上传错误报告-{err['error_report_id']}.xlsx")
    assert (await client.get("/v1/lists/civil_affairs/2025")).json()["versions"][-1]["version_no"] == 2
    extra = csv_bytes([header + ["奇怪列"], ["冯一", people[0]["id_number"], "低保对象", "", "x"]])
    r = await client.post("/v1/lists/civil_affairs/2025", files={"file": ("x.csv", extra)})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["code"] == "unexpected_columns"
    binary = await client.post("/v1/lists/civil_affairs/2025",
                               files={"file": ("x.csv", b"\x00\x01\x02\xff\xfe" * 10)})
    assert binary.status_code == 422
    unknown = await client.post("/v1/lists/police/2025", files={"file": ("x.csv", v1)})
    assert unknown.status_code == 404


async def test_registration_newborns_students_targets(client: httpx.AsyncClient,
                                                      infra: TestInfra) -> None:
    mother = await register(client, "蒋妈妈", household_no="H-2001", relation_to_head="户主")
    baby_id = new_id_number(birth="20250110")
    r = await client.post("/v1/newborns", json={
        "name": "蒋宝宝", "id_number": baby_id, "parent_id_number": mother["id_number"],
        "plan_year": 2025, "registered_on": "2025-03-01"})
    assert r.status_code == 201, r.text
    assert r.json()["person"]["household_id"] == mother["household_id"]
    assert r.json()["enrollment"]["insured_category"] == "minor"
    late = await client.post("/v1/newborns", json={
        "name": "沈晚晚", "id_number": new_id_number(birth="20250110"),
        "parent_id_number": mother["id_number"], "plan_year": 2025,
        "registered_on": "2025-06-01"})
    assert late.status_code == 422 and late.json()["error"]["code"] == "newborn_registration_late"
    students = csv_bytes([["学校", "姓名", "身份证号", "学籍号"],
                          ["滕州一中", "韩同学", new_id_number(birth="20080301", region="320102"), "G1"],
                          ["滕州一中", "杨同学", new_id_number(birth="20080302"), "G2"]])
    s = await client.post("/v1/students/upload", files={"file": ("s.csv", students)},
                          data={"plan_year": "2025", "township_code": TOWNSHIP})
    assert s.status_code == 200, s.text
    assert s.json()["registered"] == 2 and s.json()["enrolled"] == 2
    table = Path(__file__).resolve().parents[2] / "data" / "targets-370481-2021.csv"
    t = await client.post("/v1/targets/2021/upload", files={"file": (table.name, table.read_bytes())})
    assert t.status_code == 200, t.text
    assert t.json()["townships"] == 21 and t.json()["total"] == 1_487_341
    from services.registration.commands import load_targets

    assert await load_targets(infra.settings(), 2020, table, None) == (21, 1_487_341)
    listed = (await client.get("/v1/targets/2020",
                               params={"county_code": "370481"})).json()["items"]
    assert sum(x["target"] for x in listed) == 1_487_341


async def test_registration_missing_and_duplicates(client: httpx.AsyncClient) -> None:
    enrolled = await register(client, "秦已保")
    await client.post("/v1/enrollments", json={"person_id": enrolled["person_id"],
                                               "plan_year": 2026})
    unregistered, dead, worker = new_id_number(), new_id_number(), new_id_number()
    register_rows = [["姓名", "身份证号", "户号", "村代码", "户籍状态"],
                     ["秦已保", enrolled["id_number"], "H9", VILLAGE, "正常"],
                     ["许未保", unregistered, "H9", VILLAGE, "正常"],
                     ["何已故", dead, "H9", VILLAGE, "死亡"],
                     ["吕职工", worker, "H9", VILLAGE, "正常"]]
    r = await client.post("/v1/reference/household_register",
                          files={"file": ("hr.csv", csv_bytes(register_rows))})
    assert r.status_code == 200 and r.json()["rows"] == 4
    pension = csv_bytes([["姓名", "身份证号", "养老保险类型", "待遇状态"],
                         ["吕职工", worker, "职工", "正常领取"]])
    assert (await client.post("/v1/reference/employee_pension",
                              files={"file": ("p.csv", pension)})).status_code == 200
    missing = (await client.get("/v1/missing", params={"village_code": VILLAGE,
                                                       "plan_year": 2026})).json()
    assert [(m["name_masked"], m["reason"]) for m in missing["items"]] == [("许*保", "not_registered")]
    employee = csv_bytes([["姓名", "身份证号", "参保状态"], ["秦已保", enrolled["id_number"], "参保缴费"]])
    await client.post("/v1/reference/employee_insurance", files={"file": ("e.csv", employee)})
    dup = (await client.get("/v1/duplicates", params={"plan_year": 2026})).json()
    assert [d["person_id"] for d in dup["items"]] == [enrolled["person_id"]]
    population = csv_bytes([["乡镇", "户籍人口", "统计年度"], ["荆河街道", "190000", "2024"]])
    p = await client.post("/v1/reference/township_population",
                          files={"file": ("pop.csv", population)}, data={"county_code": "370481"})
    assert p.status_code == 200 and p.json()["rows"] == 1


async def test_registration_resident_import_and_limits(client: httpx.AsyncClient,
                                                       infra: TestInfra, tmp_path: Path) -> None:
    from services.registration.commands import import_residents_command

    rows = [["姓名", "身份证号", "户号", "与户主关系", "乡镇代码", "村代码"]]
    ids = [new_id_number(birth="19700101") for _ in range(30)]
    rows += [[f"居民{i}", id_number, f"IMP-{i // 3}", "户主" if i % 3 == 0 else "子女",
              TOWNSHIP, VILLAGE] for i, id_number in enumerate(ids)]
    bad_file = tmp_path / "bad.csv"
    bad_file.write_bytes(csv_bytes([*rows, ["坏人", "370481700101001", "", "", TOWNSHIP, ""]],
                                   "gbk"))
    assert await import_residents_command(infra.settings(), bad_file, "370481") == 1
    assert "15位" in (tmp_path / "bad.errors.csv").read_text(encoding="utf-8-sig")
    assert await scalar(infra, "SELECT count(*) FROM registration.persons WHERE name LIKE '居民%'") == 0
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(rows))
    assert await import_residents_command(infra.settings(), good, "370481") == 0
    assert await scalar(infra, "SELECT count(*) FROM registration.persons WHERE name LIKE '居民%'") == 30
    assert await scalar(infra, "SELECT count(*) FROM registration.outbox o JOIN registration.persons p"
                        " ON o.partition_key = p.id::text WHERE p.name LIKE '居民%'") == 30
    found = await client.post("/v1/persons/lookup", json={"id_number": ids[4]})
    household = (await client.get(f"/v1/households/{found.json()['household_id']}")).json()
    assert len(household["members"]) == 3 and household["head_person_id"]
    assert await import_residents_command(infra.settings(), good, "370481") == 0  # all known
    assert await scalar(infra, "SELECT count(*) FROM registration.persons WHERE name LIKE '居民%'") == 30
    big = await client.post("/v1/lists/civil_affairs/2025",
                            files={"file": ("big.csv", b"x" * 2_100_000)})
    assert big.status_code == 413
    assert dt.date.today().year >= 2024


async def test_registration_resident_import_events_and_batches(infra: TestInfra,
                                                               tmp_path: Path) -> None:
    """The person events the import builds in SQL are events.person_payload of the stored
    person (phone and name sealed with the PII key, the household's 户号) and hold to their contract
    (contracts.registration.PersonRegistered) unchanged; free text survives the COPY; a file partly known
    is imported across batch boundaries without duplicates."""
    import asyncpg
    import orjson

    from devtools.testing.events import assert_holds
    from kernels.regions import load_regions
    from services.registration import events
    from services.registration.bulk.residents import ImportResult, import_residents
    from services.registration.commands import asyncpg_dsn
    from services.registration.persons.repository import PersonRow, household_id_of
    from shared.outbox import Outbox, shard_of
    from shared.pii import vault_for

    settings = infra.settings()
    vault = vault_for(settings)
    header = ["姓名", "身份证号", "手机号", "户号", "与户主关系", "乡镇代码", "村代码", "地址"]
    people = [["欧阳小明", new_id_number(birth="19650304"), "13800138000", "EV\\1", "户主", TOWNSHIP, VILLAGE,
               "东关村一组1号"],
              ["王\\五", new_id_number(birth="19900101"), "", "EV\\1", "子", TOWNSHIP, VILLAGE, "东关村一组1号"],
              ["李\t四", new_id_number(birth="20100202"), "13912345678", "", "", TOWNSHIP, "", ""],
              ["赵", new_id_number(birth="19500505"), "", "EV\t2", "户主", TOWNSHIP, VILLAGE, "东关村\\二组"],
              ["钱七", new_id_number(birth="19880808"), "18612345678", "EV\t2", "配偶", TOWNSHIP, VILLAGE,
               "东关村\\二组"]]
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(csv_bytes([header, *people[:3]]))
    second.write_bytes(csv_bytes([header, *people]))

    async def run(path: Path) -> ImportResult:
        pg = await asyncpg.connect(asyncpg_dsn(settings))
        try:
            return await import_residents(pg, path, vault=vault, outbox=Outbox("registration"),
                                          regions=load_regions(), county_code="370481",
                                          batch_size=2)
        finally:
            await pg.close()

    r1 = await run(first)
    assert (r1.imported, r1.events, r1.already_registered) == (3, 3, 0)
    r2 = await run(second)
    assert (r2.imported, r2.events, r2.already_registered) == (2, 2, 3)
    hashes = [vault.lookup_hash(p[1]) for p in people]
    pg = await asyncpg.connect(asyncpg_dsn(settings))
    try:
        persons = {r["id_number_hash"]: r for r in await pg.fetch(
            "SELECT * FROM registration.persons WHERE id_number_hash = ANY($1)", hashes)}
        outbox = await pg.fetch(
            "SELECT o.* FROM registration.outbox o JOIN registration.persons p"
            " ON o.partition_key = p.id::text WHERE p.id_number_hash = ANY($1)", hashes)
        history = {r["person_id"]: orjson.loads(r["snapshot"]) for r in await pg.fetch(
            "SELECT person_id, snapshot FROM registration.person_history"
            " WHERE person_id = ANY($1)", [p["id"] for p in persons.values()])}
        heads = {r["household_no"]: r["head_person_id"] for r in await pg.fetch(
            "SELECT household_no, head_person_id FROM registration.households"
            " WHERE household_no = ANY($1)", ["EV\\1", "EV\t2"])}
    finally:
        await pg.close()
    assert len(persons) == 5 and len(outbox) == 5
    by_id = {str(p["id"]): p for p in persons.values()}
    household_nos = {str(persons[h]["id"]): row[3] or None
                     for row, h in zip(people, hashes, strict=True)}
    for row, id_hash in zip(people, hashes, strict=True):
        p = persons[id_hash]
        assert (p["name"], p["phone"] or "", p["relation_to_head"] or "") == (
            row[0], row[2], row[4])
        assert p["household_id"] == (household_id_of(row[3]) if row[3] else None)
        assert p["address"] == (row[7] or None)
        assert vault.decrypt(p["id_number_enc"]) == row[1]
        assert history[p["id"]]["name"] == row[0] and history[p["id"]]["imported"] is True
    assert heads == {"EV\\1": persons[hashes[0]]["id"], "EV\t2": persons[hashes[3]]["id"]}
    for event in outbox:
        p = by_id[event["partition_key"]]
        assert (event["topic"], event["event_type"], event["subject"], event["shard"]) == (
            events.PersonRegistered.TOPIC, events.PersonRegistered.TYPE,
            event["partition_key"], shard_of(event["partition_key"]))
        data = orjson.loads(event["data"])
        assert_holds(events.PersonRegistered, data)
        expected = events.person_payload(PersonRow(
            id=p["id"], id_number_hash=p["id_number_hash"], id_number_masked=p["id_number_masked"],
            name=p["name"], birth_date=p["birth_date"], sex=p["sex"], phone=p["phone"],
            household_id=p["household_id"], county_code=p["county_code"],
            township_code=p["township_code"], village_code=p["village_code"], revision=1,
            household_no=household_nos[str(p["id"])], address=p["address"]))
        sealed = data.pop("phone_enc")
        assert (vault.decrypt(sealed) if sealed else None) == p["phone"]
        assert vault.decrypt(data.pop("name_enc")) == p["name"]
        assert expected.pop("phone_enc") is None  # no vault given: compared opened above
        assert expected.pop("name_enc") is None
        sealed = data.pop("address_enc")
        assert (vault.decrypt(sealed) if sealed else None) == p["address"]
        assert expected.pop("address_enc") is None
        assert data == expected


async def test_registration_coverage_by_township(client: httpx.AsyncClient) -> None:
    """Who is missing per township: the statistics bureau's population (reference data) next
    to the persons registered and enrolled for the plan year."""
    shannan = "370481004000"  # 善南街道: no other test registers anyone there
    population = csv_bytes([["乡镇代码", "户籍人口", "常住人口", "统计年度"],
                            [shannan, "100", "", "2027"], [shannan, "10", "12", "2028"],
                            [shannan, "999", "", "2030"]])
    p = await client.post("/v1/reference/township_population",
                          files={"file": ("pop.csv", population)}, data={"county_code": "370481"})
    assert p.status_code == 200 and p.json()["rows"] == 3
    people = [await register(client, name, township_code=shannan, village_code=None)
              for name in ("单一", "单二", "单三")]
    for person in people[:2]:
        r = await client.post("/v1/enrollments", json={"person_id": person["person_id"],
                                                       "plan_year": 2029})
        assert r.status_code in (200, 201), r.text
    county = await client.get("/v1/missing/townships",
                              params={"county_code": "370481", "plan_year": 2029})
    assert county.status_code == 200, county.text
    body = county.json()
    assert body["population_year"] == 2028 and len(body["items"]) == 21
    item = next(i for i in body["items"] if i["township_code"] == shannan)
    assert item == {"township_code": shannan, "name": "善南街道", "population": 10,
                    "resident_population": 12, "registered_persons": 3, "enrolled_persons": 2,
                    "registration_rate": 0.3, "coverage_rate": 0.2, "not_enrolled": 8}
    assert body["total"]["population"] is None  # not every township has a 2028 figure
    assert body["total"]["registered_persons"] >= 3 and body["total"]["enrolled_persons"] >= 2
    one = (await client.get("/v1/missing/townships", params={
        "township_code": shannan, "plan_year": 2029, "population_year": 2027})).json()
    assert [i["population"] for i in one["items"]] == [100] and one["population_year"] == 2027
    assert one["total"] == {**one["items"][0]} and one["total"]["coverage_rate"] == 0.02
    none = (await client.get("/v1/missing/townships",
                             params={"township_code": shannan, "plan_year": 2026})).json()
    assert none["population_year"] is None and none["items"][0]["coverage_rate"] is None
    assert (await client.get("/v1/missing/townships", params={
        "county_code": "370482", "township_code": shannan, "plan_year": 2029})).status_code == 422
    assert (await client.get("/v1/missing/townships", params={
        "township_code": "370481999000", "plan_year": 2029})).status_code == 404
    assert (await client.get("/v1/missing/townships",
                             params={"plan_year": 2029})).status_code == 422


async def test_person_events_carry_household_number_and_sealed_name(
        client: httpx.AsyncClient, infra: TestInfra) -> None:
    """A person registered one by one is published with the household's 户号, and the name
    and address sealed with the PII key (for the reminder lists' callers), never in the
    clear."""
    import orjson

    from shared.pii import vault_for

    household = f"HH{random.randint(10**8, 10**9)}"
    person = await register(client, "司马小芳", household_no=household, relation_to_head="户主",
                            address="东关村三组12号")
    data = orjson.loads(str(await scalar(
        infra, "SELECT data::text FROM registration.outbox WHERE subject = :p AND event_type = "
               "'registration.person_registered.v1'", p=str(person["person_id"]))))
    assert data["household_no"] == household
    vault = vault_for(infra.settings())
    assert vault is not None and vault.decrypt(data["name_enc"]) == "司马小芳"
    assert vault.decrypt(data["address_enc"]) == "东关村三组12号"
    assert "司马小芳" not in orjson.dumps(data).decode()
    assert "东关村" not in orjson.dumps(data).decode()
