"""Uploads apply only within the uploader's region and department, with tokens switched on:
certified lists per department, region and plan year; students; reference data per kind and
region; Yutai's department mapping; the current list downloaded and sent back; region-limited
reads of targets, list versions and error reports; bounds on enrollment years and dates;
damaged workbooks."""

from __future__ import annotations

import csv
import io
import random
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.registration.app import create_app
from shared.idnumber import check_character, mask_id_number

TENGZHOU, PINGYIN, YUTAI = "370481", "370124", "370827"
TOWNSHIPS = {TENGZHOU: "370481001000", PINGYIN: "370124001000", YUTAI: "370827001000"}
SECOND_TENGZHOU_TOWNSHIP = "370481002000"
_used: set[str] = set()


def new_id_number(region: str, birth: str | None = None) -> str:
    """A valid ID number not used before (other modules share the database: a random birth
    day in 1950-1999 unless one is asked for)."""
    while True:
        day = birth or f"{random.randint(1950, 1999)}{random.randint(1, 12):02d}" \
            f"{random.randint(1, 28):02d}"
        first17 = f"{region}{day}{random.randint(100, 999)}"
        value = first17 + check_character(first17)
        if value not in _used:
            _used.add(value)
            return value


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


class World:
    def __init__(self, client: httpx.AsyncClient, bearer: Any, infra: TestInfra) -> None:
        self.client, self.bearer, self.infra = client, bearer, infra

    def as_(self, role: str, region: str, department: str | None = None,
            sub: str | None = None) -> dict[str, str]:
        return self.bearer(sub=sub or f"{role}-{region}", role=role, region=region,
                           department=department)

    async def person(self, name: str, township: str, birth: str | None = None) -> dict[str, Any]:
        id_number = new_id_number(township[:6], birth)
        r = await self.client.post(
            "/v1/persons", json={"id_number": id_number, "name": name, "township_code": township},
            headers=self.as_("medical_insurance_officer", township[:6]))
        assert r.status_code == 201, r.text
        return {**r.json(), "id_number": id_number, "name": name}

    async def groups(self, person_id: str) -> set[tuple[str, str | None]]:
        """(group, department) of the person's memberships, straight from the table."""
        engine = create_async_engine(self.infra.settings().async_database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text(
                    "SELECT group_code, department FROM registration.group_memberships "
                    "WHERE person_id = :p"), {"p": uuid.UUID(person_id)})
                return {(r[0], r[1]) for r in rows}
        finally:
            await engine.dispose()

    async def snapshot(self) -> dict[str, str]:
        """A digest of registration's state tables (audit log and error reports left out)."""
        engine = create_async_engine(self.infra.settings().async_database_url)
        try:
            async with engine.connect() as conn:
                out = {}
                for table in ("persons", "enrollments", "group_memberships", "list_versions",
                              "list_entries", "reference_persons", "reference_uploads",
                              "outbox"):
                    out[table] = (await conn.execute(text(
                        f"SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' "
                        f"ORDER BY t::text)), '') FROM registration.{table} t"))).scalar_one()
                return out
        finally:
            await engine.dispose()

    async def upload_list(self, department: str, region: str, rows: list[list[str]],
                          year: int = 2025, **params: str) -> httpx.Response:
        return await self.client.post(
            f"/v1/lists/{department}/{year}", params=params,
            files={"file": ("list.csv", csv_bytes([["姓名", "身份证号", "类别", "认定日期"],
                                                   *rows]))},
            headers=self.as_("department_officer", region, department))


@pytest.fixture(scope="module")
async def world(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                ) -> AsyncIterator[World]:
    with auth_enabled(Path(tmp_path_factory.mktemp("keys"))) as bearer:
        app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
        async with running_app(app) as client:
            yield World(client, bearer, infra)


async def test_two_counties_lists_of_one_department_never_touch_each_other(world: World) -> None:
    """Civil affairs of Tengzhou and of Pingyin each upload their 低保 list for 2025, then each
    uploads a version without its person: only its own county's person loses the group. (Plan
    year 2027, which no other test's lists use, so that the first versions are this test's.)"""
    teng = await world.person("滕低保", TOWNSHIPS[TENGZHOU])
    ping = await world.person("平低保", TOWNSHIPS[PINGYIN])
    a = await world.upload_list("civil_affairs", TENGZHOU,
                                [[teng["name"], teng["id_number"], "低保对象", "2024-03-01"]], year=2027)
    assert a.status_code == 200, a.text
    assert a.json()["region_code"] == TENGZHOU and a.json()["version"]["added"] == 1
    # recorded under the token's subject
    assert a.json()["version"]["uploaded_by"] == f"department_officer-{TENGZHOU}"
    b = await world.upload_list("civil_affairs", PINGYIN,
                                [[ping["name"], ping["id_number"], "低保对象", "2024-03-01"]], year=2027)
    assert b.status_code == 200, b.text
    # Pingyin's first version removed nobody, Tengzhou's person keeps the group
    assert b.json()["version"]["version_no"] == 1 and b.json()["version"]["removed"] == 0
    assert await world.groups(teng["person_id"]) == {("minimum_living_allowance", "civil_affairs")}

    other = await world.person("平特困", TOWNSHIPS[PINGYIN])
    c = await world.upload_list("civil_affairs", PINGYIN,
                                [[other["name"], other["id_number"], "特困人员", "2024-05-01"]], year=2027)
    assert c.status_code == 200, c.text
    assert c.json()["version"]["removed"] == 1 and c.json()["version"]["added"] == 1
    assert await world.groups(ping["person_id"]) == set()
    assert await world.groups(teng["person_id"]) == {("minimum_living_allowance", "civil_affairs")}


async def test_a_list_naming_someone_of_another_county_changes_nothing(world: World) -> None:
    """Tengzhou's civil affairs sends a file naming a Pingyin person (right and wrong name):
    403 forbidden_region row reasons, nothing applied, the registered name never told."""
    own = await world.person("滕自己", TOWNSHIPS[TENGZHOU])
    far = await world.person("平别人", TOWNSHIPS[PINGYIN])
    for name in (far["name"], "错名字"):
        before = await world.snapshot()
        r = await world.upload_list("civil_affairs", TENGZHOU, [
            [own["name"], own["id_number"], "低保对象", "2024-03-01"],
            [name, far["id_number"], "低保对象", "2024-03-01"]])
        assert r.status_code == 403, r.text
        error = r.json()["error"]
        assert error["code"] == "forbidden_region" and error["rows"] == [3]
        assert [e["code"] for e in error["errors"]] == ["forbidden_region"]
        assert await world.snapshot() == before
        report = await world.client.get(
            f"/v1/lists/error-reports/{error['error_report_id']}",
            headers=world.as_("department_officer", TENGZHOU, "civil_affairs"))
        assert report.status_code == 200
        for told in (far["name"], "平*人", PINGYIN + "001"):
            assert told not in r.text and told not in report.text


async def test_township_staff_students_upload_naming_another_township_changes_nothing(
        world: World) -> None:
    """Township staff of 370481001000 upload students, one registered in another township of
    the county and one in Pingyin: refused, no school changed, nobody enrolled."""
    staff = world.as_("township_staff", TOWNSHIPS[TENGZHOU])
    neighbour = await world.person("邻镇生", SECOND_TENGZHOU_TOWNSHIP, birth="20070301")
    far = await world.person("外县生", TOWNSHIPS[PINGYIN], birth="20070302")
    for person in (neighbour, far):
        before = await world.snapshot()
        file = csv_bytes([["学校", "姓名", "身份证号", "学籍号"],
                          ["滕州一中", "新同学", new_id_number(TENGZHOU, "20080101"), "S1"],
                          ["滕州一中", person["name"], person["id_number"], "S2"]])
        r = await world.client.post(
            "/v1/students/upload", files={"file": ("s.csv", file)},
            data={"plan_year": "2025", "township_code": TOWNSHIPS[TENGZHOU]}, headers=staff)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden_region"
        assert person["name"] not in r.text
        assert await world.snapshot() == before


async def test_yutai_rural_revitalization_certifies_low_income_margin(world: World) -> None:
    """In Yutai the rural revitalization office certifies 低保边缘 (list upload, also in a
    province's list, and single membership), and civil affairs no longer does; in Tengzhou it
    stays with civil affairs."""
    yutai = await world.person("鱼低边", TOWNSHIPS[YUTAI])
    r = await world.upload_list("rural_revitalization", YUTAI, [
        [yutai["name"], yutai["id_number"], "低保边缘家庭成员", "2023-06-01"]], year=2024)
    assert r.status_code == 200, r.text
    assert await world.groups(yutai["person_id"]) == {("low_income_margin",
                                                       "rural_revitalization")}
    civil = await world.upload_list("civil_affairs", YUTAI, [
        [yutai["name"], yutai["id_number"], "低保边缘家庭成员", "2023-06-01"]], year=2024)
    assert civil.status_code == 422
    assert civil.json()["error"]["errors"][0]["code"] == "category_not_allowed"

    second = await world.person("鱼单加", TOWNSHIPS[YUTAI])
    put = await world.client.put(
        f"/v1/persons/{second['person_id']}/groups",
        json={"group_code": "low_income_margin", "certified_on": "2023-07-01"},
        headers=world.as_("department_officer", YUTAI, "rural_revitalization"))
    assert put.status_code == 200, put.text
    assert await world.groups(second["person_id"]) == {("low_income_margin",
                                                        "rural_revitalization")}
    gone = await world.client.delete(
        f"/v1/persons/{second['person_id']}/groups/low_income_margin",
        headers=world.as_("department_officer", YUTAI, "rural_revitalization"))
    assert gone.status_code == 204, gone.text

    # a province's list is checked row by row against each person's county
    province = await world.person("鱼省单", TOWNSHIPS[YUTAI])
    teng_row = await world.person("滕省单", TOWNSHIPS[TENGZHOU])
    mixed = await world.upload_list("rural_revitalization", "370000", [
        [province["name"], province["id_number"], "低保边缘", "2023-06-01"],
        [teng_row["name"], teng_row["id_number"], "低保边缘", "2023-06-01"]], year=2024)
    assert mixed.status_code == 422, mixed.text
    assert [(e["row_number"], e["code"]) for e in mixed.json()["error"]["errors"]] == [
        (3, "category_not_allowed")]
    whole = await world.upload_list("rural_revitalization", "370000", [
        [province["name"], province["id_number"], "低保边缘", "2023-06-01"]], year=2024)
    assert whole.status_code == 200, whole.text
    assert await world.groups(province["person_id"]) == {("low_income_margin",
                                                          "rural_revitalization")}

    teng = await world.person("滕低边", TOWNSHIPS[TENGZHOU])
    refused = await world.client.put(
        f"/v1/persons/{teng['person_id']}/groups", json={"group_code": "low_income_margin"},
        headers=world.as_("department_officer", TENGZHOU, "rural_revitalization"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden_department"


async def test_downloaded_list_sent_back_changes_nothing(world: World) -> None:
    """The disabled persons' federation downloads its current list (CSV and XLSX, the upload's
    Chinese headers) and uploads it again: unchanged, no new version, memberships as before."""
    a = await world.person("滕重残", TOWNSHIPS[TENGZHOU])
    b = await world.person("=滕重残", TOWNSHIPS[TENGZHOU])
    officer = world.as_("department_officer", TENGZHOU, "disabled_persons_federation")
    first = await world.client.post(
        "/v1/lists/disabled_persons_federation/2025", headers=officer,
        files={"file": ("l.csv", csv_bytes([
            ["姓名", "身份证号", "类别", "残疾等级", "认定日期", "终止日期"],
            [a["name"], a["id_number"], "重度残疾人", "一级", "2024-03-01", ""],
            [b["name"], b["id_number"], "重度残疾人", "2", "2024-04-01", "2026-12-31"]]))})
    assert first.status_code == 200, first.text
    for fmt in ("csv", "xlsx"):
        d = await world.client.get("/v1/lists/disabled_persons_federation/2025/current",
                                   params={"format": fmt}, headers=officer)
        assert d.status_code == 200, d.text
        named = unquote(d.headers["content-disposition"].split("filename*=UTF-8''")[1])
        assert named.startswith("残联2025年度认定名单-") and named.endswith(f"版.{fmt}")
        if fmt == "csv":
            text_ = d.content.decode("utf-8-sig")
            assert text_.startswith("姓名,身份证号,类别,认定日期,终止日期")
            assert a["id_number"] in text_ and "'=滕重残" in text_  # a formula is neutralised
        before = await world.snapshot()
        again = await world.client.post(
            "/v1/lists/disabled_persons_federation/2025", headers=officer,
            files={"file": (f"back.{fmt}", d.content)})
        # the neutralised name comes back with its apostrophe: a mismatch, nothing applied
        assert again.status_code == 422, again.text
        assert [e["code"] for e in again.json()["error"]["errors"]] == ["name_mismatch"]
        assert await world.snapshot() == before
    # without the formula-looking name the round trip is exact
    cleared = await world.client.post(
        "/v1/lists/disabled_persons_federation/2025", headers=officer,
        files={"file": ("l.csv", csv_bytes([
            ["姓名", "身份证号", "类别", "残疾等级", "认定日期", "终止日期"],
            [a["name"], a["id_number"], "重度残疾人", "一级", "2024-03-01", ""]]))})
    assert cleared.status_code == 200 and cleared.json()["version"]["removed"] == 1
    for fmt in ("csv", "xlsx"):
        d = await world.client.get("/v1/lists/disabled_persons_federation/2025/current",
                                   params={"format": fmt}, headers=officer)
        before = await world.snapshot()
        again = await world.client.post(
            "/v1/lists/disabled_persons_federation/2025", headers=officer,
            files={"file": (f"back.{fmt}", d.content)})
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "unchanged"
        assert again.json()["version"]["version_no"] == cleared.json()["version"]["version_no"]
        assert await world.snapshot() == before
    other = await world.client.get(
        "/v1/lists/disabled_persons_federation/2025/current",
        headers=world.as_("department_officer", PINGYIN, "disabled_persons_federation"))
    assert other.status_code == 404


async def test_reference_data_is_kept_per_county(world: World) -> None:
    """Tengzhou's and Pingyin's bureaus each upload a household register and an employee list;
    each county's who-is-missing list stays its own; an employee pensioner enrolled in the
    resident scheme is reported as insured twice."""
    teng_village, ping_village = "370481001237", "370124001237"  # used by no other test
    teng_missing, ping_missing = new_id_number(TENGZHOU), new_id_number(PINGYIN)
    bureau = {c: world.as_("medical_insurance_officer", c) for c in (TENGZHOU, PINGYIN)}
    for county, village, id_number in ((TENGZHOU, teng_village, teng_missing),
                                       (PINGYIN, ping_village, ping_missing)):
        r = await world.client.post(
            "/v1/reference/household_register", headers=bureau[county],
            files={"file": ("hr.csv", csv_bytes([["姓名", "身份证号", "户号", "村代码"],
                                                  ["某未保", id_number, "H1", village]]))})
        assert r.status_code == 200, r.text
        assert r.json()["region_code"] == county
    missing = await world.client.get("/v1/missing", headers=bureau[TENGZHOU],
                                     params={"village_code": teng_village, "plan_year": 2025})
    assert [m["id_number_masked"] for m in missing.json()["items"]] == [mask_id_number(teng_missing)]

    pensioner = await world.person("滕退休", TOWNSHIPS[TENGZHOU], birth="19550101")
    enrolled = await world.client.post(
        "/v1/enrollments", json={"person_id": pensioner["person_id"], "plan_year": 2025},
        headers=bureau[TENGZHOU])
    assert enrolled.status_code == 201, enrolled.text
    for county, id_number in ((TENGZHOU, pensioner["id_number"]), (PINGYIN, new_id_number(PINGYIN))):
        r = await world.client.post(
            "/v1/reference/employee_pension", headers=bureau[county],
            files={"file": ("p.csv", csv_bytes([["姓名", "身份证号", "养老保险类型", "待遇状态"],
                                                 ["某退休", id_number, "职工", "正常领取"]]))})
        assert r.status_code == 200, r.text
    dup = await world.client.get("/v1/duplicates", params={"plan_year": 2025},
                                 headers=bureau[TENGZHOU])
    assert [(d["person_id"], d["employee_scheme"]) for d in dup.json()["items"]] == [
        (pensioner["person_id"], "employee_pension")]
    # Pingyin's bureau cannot put a Tengzhou person on its list
    before = await world.snapshot()
    r = await world.client.post(
        "/v1/reference/employee_pension", headers=bureau[PINGYIN],
        files={"file": ("p.csv", csv_bytes([["姓名", "身份证号", "养老保险类型"],
                                             ["某退休", pensioner["id_number"], "职工"]]))})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_region"
    assert await world.snapshot() == before
    # Tengzhou's register still holds its row after Pingyin's uploads
    again = await world.client.get("/v1/missing", headers=bureau[TENGZHOU],
                                   params={"village_code": teng_village, "plan_year": 2025})
    assert len(again.json()["items"]) == 1


async def test_reads_stop_at_the_callers_region(world: World) -> None:
    """Targets, list version history and error reports of another county are not shown; a
    region left out means the caller's own."""
    bureau = {c: world.as_("medical_insurance_officer", c) for c in (TENGZHOU, PINGYIN)}
    for county in (TENGZHOU, PINGYIN):
        r = await world.client.put(f"/v1/targets/2025/{TOWNSHIPS[county]}",
                                   json={"target": 1000}, headers=bureau[county])
        assert r.status_code == 200, r.text
    mine = await world.client.get("/v1/targets/2025", headers=bureau[PINGYIN])
    assert {t["township_code"][:6] for t in mine.json()["items"]} == {PINGYIN}
    assert (await world.client.get("/v1/targets/2025", params={"county_code": TENGZHOU},
                                   headers=bureau[PINGYIN])).status_code == 403

    person = await world.person("平历史", TOWNSHIPS[PINGYIN])
    assert (await world.upload_list("veterans_affairs", PINGYIN, [
        [person["name"], person["id_number"], "优抚对象", "2024-03-01"]])).status_code == 200
    officer = world.as_("department_officer", TENGZHOU, "veterans_affairs")
    history = await world.client.get("/v1/lists/veterans_affairs/2025", headers=officer)
    assert history.status_code == 200 and history.json()["versions"] == []
    assert (await world.client.get("/v1/lists/veterans_affairs/2025", headers=officer,
                                   params={"region_code": PINGYIN})).status_code == 403
    theirs = world.as_("department_officer", PINGYIN, "veterans_affairs")
    assert len((await world.client.get("/v1/lists/veterans_affairs/2025",
                                       headers=theirs)).json()["versions"]) == 1

    bad = await world.upload_list("veterans_affairs", PINGYIN,
                                  [["某人", new_id_number(PINGYIN), "优抚对象", "2024-03-01"]])
    assert bad.status_code == 422
    report = f"/v1/lists/error-reports/{bad.json()['error']['error_report_id']}"
    assert (await world.client.get(report, headers=theirs)).status_code == 200
    assert (await world.client.get(report, headers=bureau[TENGZHOU])).status_code == 404


async def test_bad_years_and_dates_answer_422_naming_the_field(world: World) -> None:
    """Plan year 2042, a registration day of 9999-12-31 or in the future, a person born after
    the plan year, a membership that ends before it was certified: 422 with the field, and
    nothing stored."""
    bureau = world.as_("medical_insurance_officer", TENGZHOU)
    person = await world.person("滕日期", TOWNSHIPS[TENGZHOU])
    baby = await world.person("滕晚生", TOWNSHIPS[TENGZHOU], birth="20260101")
    cases = [
        ({"person_id": person["person_id"], "plan_year": 2042}, "plan_year"),
        ({"person_id": person["person_id"], "plan_year": 2025, "registered_on": "9999-12-31"},
         "registered_on"),
        ({"person_id": person["person_id"], "plan_year": 2025, "registered_on": "2001-01-01"},
         "registered_on"),
        ({"person_id": baby["person_id"], "plan_year": 2025}, "plan_year"),
    ]
    before = await world.snapshot()
    for body, field in cases:
        r = await world.client.post("/v1/enrollments", json=body, headers=bureau)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, r.text
    ends_early = await world.client.put(
        f"/v1/persons/{person['person_id']}/groups", headers=bureau,
        json={"group_code": "orphan", "certified_on": "2024-05-01", "ends_on": "2024-01-01"})
    assert ends_early.status_code == 422, ends_early.text
    assert [f["field"] for f in ends_early.json()["error"]["fields"]] == ["ends_on"]
    assert await world.snapshot() == before


def _broken_workbooks(good: bytes) -> dict[str, bytes]:
    def patched(part: str, data: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, data if item.filename == part else src.read(item.filename))
        return out.getvalue()

    return {"workbook": patched("xl/workbook.xml", b"<workbook><sheets><sheet"),
            "sheet": patched("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row><c"),
            "styles": patched("xl/styles.xml", b"<styleSheet><fonts count='x'><font"),
            "truncated": good[: len(good) // 2]}


async def test_broken_workbooks_answer_422_in_chinese(world: World) -> None:
    """A list upload with broken workbook, sheet or styles XML, or a truncated file: 422 with
    a Chinese reason, nothing applied."""
    from openpyxl import Workbook

    person = await world.person("滕表格", TOWNSHIPS[TENGZHOU])
    workbook = Workbook()
    workbook.active.append(["姓名", "身份证号", "类别"])
    workbook.active.append([person["name"], person["id_number"], "孤儿"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    officer = world.as_("department_officer", TENGZHOU, "civil_affairs")
    for what, content in _broken_workbooks(buffer.getvalue()).items():
        before = await world.snapshot()
        r = await world.client.post("/v1/lists/civil_affairs/2025", headers=officer,
                                    files={"file": ("broken.xlsx", content)})
        assert r.status_code == 422, (what, r.status_code, r.text)
        assert "XLSX" in r.json()["error"]["message"], (what, r.text)
        assert await world.snapshot() == before


async def test_text_with_direction_overrides_is_refused_in_every_upload(world: World) -> None:
    """A name carrying U+202E (shown reversed) in a reference list, a certified list and a
    students list: 422 control_characters naming the column, nothing applied."""
    person = await world.person("滕方向", TOWNSHIPS[TENGZHOU])
    name = "滕\u202e方向"
    calls = [
        ("/v1/reference/employee_insurance", world.as_("medical_insurance_officer", TENGZHOU),
         [["姓名", "身份证号", "参保状态"], [name, new_id_number(TENGZHOU), "参保缴费"]], {}),
        ("/v1/lists/civil_affairs/2025",
         world.as_("department_officer", TENGZHOU, "civil_affairs"),
         [["姓名", "身份证号", "类别"], [name, person["id_number"], "孤儿"]], {}),
        ("/v1/students/upload", world.as_("township_staff", TOWNSHIPS[TENGZHOU]),
         [["学校", "姓名", "身份证号"], ["滕州一中", name, new_id_number(TENGZHOU, "20080303")]],
         {"plan_year": "2025", "township_code": TOWNSHIPS[TENGZHOU]}),
    ]
    for url, headers, rows, form in calls:
        before = await world.snapshot()
        r = await world.client.post(url, headers=headers, data=form,
                                    files={"file": ("t.csv", csv_bytes(rows))})
        assert r.status_code == 422, (url, r.text)
        errors = r.json()["error"]["errors"]
        assert [(e["code"], e["column"]) for e in errors] == [("control_characters", "姓名")]
        assert await world.snapshot() == before


async def test_a_stop_note_with_a_direction_override_is_refused(world: World) -> None:
    """Stopping an enrollment with a note carrying U+202E: 422 naming the note, still
    registered."""
    bureau = world.as_("medical_insurance_officer", TENGZHOU)
    person = await world.person("滕停保", TOWNSHIPS[TENGZHOU])
    assert (await world.client.post("/v1/enrollments", headers=bureau, json={
        "person_id": person["person_id"], "plan_year": 2025})).status_code == 201
    r = await world.client.post(
        f"/v1/enrollments/{person['person_id']}/2025/stop", headers=bureau,
        json={"status": "stopped", "reason": "other", "note": "迁\u202e出"})
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["note"]
    e = await world.client.get(f"/v1/enrollments/{person['person_id']}/2025", headers=bureau)
    assert e.json()["status"] == "registered"
