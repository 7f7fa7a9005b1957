"""The reminder list as the staff who phone people read it: the amount due (numeric yuan in
the XLSX), the household number, the address, the name and the phone in full for township
staff and the medical insurance bureau inside their region; the masked name and phone and
neither household nor address for a supervisor; never an internal id as a column."""

from __future__ import annotations

import csv
import io
import random
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import registration
from devtools.testing.apps import running_app
from devtools.testing.events import cloud_event
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.reporting.access import sees_contact_details
from services.reporting.app import create_app
from services.reporting.projections.handlers import router
from services.reporting.tests import factories as f
from shared.db import make_sessionmaker
from shared.events import CloudEvent
from shared.pii import vault_for
from shared.principals import Principal


def _person(pid: str, village: str, sealed: dict[str, str | None],
            household_no: str | None) -> CloudEvent:
    return cloud_event(registration.PersonRegistered(
        person_id=pid, revision=1, birth_date="1971-05-02", sex="female",
        id_number_hash="cd" * 16, id_number_masked=f"{village[:6]}***********7",
        name_masked="欧**芳", county_code=village[:6], township_code=village[:9] + "000",
        village_code=village, household_id=None, household_no=household_no, **sealed))


def _staff(role: str, region: str) -> Principal:
    return Principal(subject="x", kind="staff", role=role, region=region)


def test_contact_details_follow_role_and_region() -> None:
    """Township staff and the bureau inside their region see contact details; outside it, or
    as a supervisor or a system caller, they do not."""
    village = "370481001001"
    assert sees_contact_details(_staff("township_staff", "370481001000"), village)
    assert sees_contact_details(_staff("medical_insurance_officer", "370481"), village)
    assert not sees_contact_details(_staff("township_staff", "370481002000"), village)
    assert not sees_contact_details(_staff("supervisor", "370481"), village)
    assert not sees_contact_details(
        Principal(subject="s", kind="system", scopes=frozenset({"reporting:read"})), village)


async def test_reminder_list_shows_due_household_and_address_to_those_who_call(
        infra: TestInfra, reporting_engine: AsyncEngine, tmp_path: Path) -> None:
    year = random.randint(2040, 2099)
    county = f.new_county()
    village = f"{county}001001"
    pid = f.new_id()
    settings = infra.settings(consumers_enabled=False, relay_enabled=False)
    vault = vault_for(settings)
    assert vault is not None
    household = f"{village}{random.randint(100, 999)}"
    sealed = {"name_enc": vault.encrypt("欧阳小芳"), "phone_enc": vault.encrypt("13912345678"),
              "address_enc": vault.encrypt("北辛街道东关村三组12号")}
    events = [_person(pid, village, sealed, household), f.enrollment(pid, year, village=village),
              f.determination(pid, year, village=village)]
    async with make_sessionmaker(reporting_engine)() as session, session.begin():
        for ev in events:
            await router(session, ev)

    with auth_enabled(tmp_path) as bearer:
        async with running_app(create_app(settings)) as client:
            params = {"plan_year": year, "village_code": village}
            clerk = bearer(sub="clerk", role="township_staff", region=f"{county}001000")
            boss = bearer(sub="boss", role="supervisor", region=county)

            mine = (await client.get("/v1/reminders", params=params, headers=clerk)).json()
            [row] = mine["rows"]
            assert mine["contacts"] == "in full"
            assert (row["name"], row["phone"], row["household_no"], row["address"]) == (
                "欧阳小芳", "13912345678", household, "北辛街道东关村三组12号")
            assert row["owed_fen"] > 0 and row["id_number"] == f"{county}***********7"
            owed = Decimal(row["owed_fen"]) / 100

            theirs = (await client.get("/v1/reminders", params=params, headers=boss)).json()
            [masked] = theirs["rows"]
            assert theirs["contacts"] == "masked"
            assert (masked["name"], masked["phone"], masked["household_no"],
                    masked["address"]) == ("欧**芳", "139****5678", None, None)

            xlsx = await client.get("/v1/reminders", params={**params, "format": "xlsx"},
                                    headers=clerk)
            sheet = load_workbook(io.BytesIO(xlsx.content)).active
            rows = [[c.value for c in r] for r in sheet.iter_rows()]
            header = next(r for r in rows if "序号" in r)
            assert "人员编号" not in header
            assert {"户号", "地址", "应缴金额（元）"} <= set(header)
            line = rows[rows.index(header) + 1]
            values = dict(zip(header, line, strict=False))
            assert values["户号"] == household and values["姓名"] == "欧阳小芳"
            assert values["地址"] == "北辛街道东关村三组12号"
            cell = sheet.cell(row=rows.index(header) + 2,
                              column=header.index("应缴金额（元）") + 1)
            assert cell.data_type == "n" and Decimal(str(cell.value)) == owed
            assert cell.number_format == "#,##0.00"
            assert pid not in {str(v) for r in rows for v in r}

            text = (await client.get("/v1/reminders", params={**params, "format": "csv"},
                                     headers=boss)).content.decode("utf-8-sig")
            table = list(csv.reader(io.StringIO(text)))
            assert "户号" not in table[0] and "地址" not in table[0]
            assert "欧阳小芳" not in text and "13912345678" not in text
