"""Through the real broker: events produced onto the topics reach the API; the exports; and a
rebuild from the topics gives the same numbers."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import text

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.reporting.app import create_app
from services.reporting.commands import rebuild
from services.reporting.tests import factories as f
from services.reporting.tests.test_reporting_projections import YEAR, scenario
from shared.db import make_engine
from shared.events import CloudEvent
from shared.kafka import ensure_topics, make_producer

TOPIC_OF = {
    "registration.person": "registration.person.v1",
    "registration.enrollment": "registration.enrollment.v1",
    "registration.target": "registration.target.v1",
    "eligibility.determination": "eligibility.determination.v1",
    "payments.payment": "payments.payment.v1",
}


def topic_of(ev: CloudEvent) -> str:
    prefix, name = ev.type.split(".")[:2]
    kind = name.split("_")[0]
    return TOPIC_OF[f"{prefix}.{kind}"]


async def produce(infra: TestInfra, events: list[CloudEvent]) -> None:
    settings = infra.settings()
    await ensure_topics(settings, set(TOPIC_OF.values()))
    producer = make_producer(settings)
    await producer.start()
    try:
        for ev in events:
            key, value, headers = ev.to_kafka()
            await producer.send_and_wait(topic_of(ev), value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def wait_for(client: httpx.AsyncClient, url: str, ok: Any, limit: float = 40) -> dict:
    deadline = time.monotonic() + limit
    while True:
        body = (await client.get(url)).json()
        if ok(body):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def all_applied(infra: TestInfra, event_ids: set[str], limit: float = 40) -> None:
    """Until reporting's inbox holds every one of these events."""
    engine = make_engine(infra.settings())
    try:
        deadline = time.monotonic() + limit
        while True:
            async with engine.connect() as conn:
                done = (await conn.execute(text(
                    "SELECT count(DISTINCT event_id) FROM reporting.inbox "
                    "WHERE event_id = ANY(:ids)"), {"ids": list(event_ids)})).scalar_one()
            if done == len(event_ids):
                return
            assert time.monotonic() < deadline, f"{done} of {len(event_ids)} events applied"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def test_events_to_api_exports_and_rebuild(infra: TestInfra) -> None:
    county = f.new_county()
    events, people = scenario(county)
    village = f"{county}002001"
    late = f.new_id()
    events += [f.person(late, village=village), f.enrollment(late, YEAR, village=village)]
    # the same event (same source and id) delivered twice: the inbox keeps one
    events.append(events[5])
    await produce(infra, events)
    url = f"/v1/progress?county_code={county}&plan_year={YEAR}&as_of=2024-12-03"

    settings = infra.settings()
    async with running_app(create_app(settings)) as client:
        # every event applied (a late determination changes a band, not the totals)
        await all_applied(infra, {e.id for e in events})
        before = await wait_for(client, url, lambda b: b["totals"]["paid"] == 3
                                and b["totals"]["registered"] == 6)
        assert before["totals"]["target"] == 14

        village_url = (f"/v1/progress?county_code={county}&plan_year={YEAR}&level=village"
                       f"&township_code={county}002000")
        assert (await client.get(village_url)).json()["rows"][0]["code"] == village

        csv = await client.get(url + "&format=csv")
        assert csv.content.startswith(b"\xef\xbb\xbf")
        assert "排名,镇（街道）,区划代码,任务数" in csv.content.decode("utf-8-sig")

        # person events travel on their own topic: wait until the list has caught up with them
        publicity = f"/v1/publicity-lists?village_code={village}&plan_year={YEAR}"
        await wait_for(client, publicity, lambda b: b["rows"] and all(
            r["id_number"] and r["name"] for r in b["rows"]))
        pub = await client.get(publicity + "&format=xlsx")
        sheet = load_workbook(io.BytesIO(pub.content)).active
        assert sheet.cell(3, 2).value == "姓名" and sheet.cell(4, 3).value == "370481***********X"
        html = await client.get(f"/v1/publicity-lists?village_code={village}&plan_year={YEAR}"
                                "&format=html")
        assert "参保缴费公示表" in html.text and "政府代缴" in html.text

        rem = (await client.get(f"/v1/reminders?village_code={village}&plan_year={YEAR}")).json()
        assert {r["person_id"] for r in rem["rows"]} == {people["refunded"], late}
        bad = await client.post(f"/v1/reminders/{late}/{YEAR}/reason", json={"reason": "other"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "note_required"
        ok = await client.post(f"/v1/reminders/{late}/{YEAR}/reason",
                               json={"reason": "other", "note": "在外地读书"})
        assert ok.status_code == 200 and ok.json()["reason_name"] == "其他"
        missing = await client.post(f"/v1/reminders/{f.new_id()}/{YEAR}/reason",
                                    json={"reason": "died"})
        assert missing.status_code == 404

        fund = (await client.get(f"/v1/funding-applications?county_code={county}"
                                 f"&plan_year={YEAR}&include_persons=true")).json()
        assert fund["by_budget_line"][0]["budget_line"] == "medical_assistance_fund"
        assert fund["by_budget_line"][0]["headcount"] == 1
        assert fund["persons"][0]["list"] == "政府资助人员名单"
        xlsx = await client.get(f"/v1/funding-applications?county_code={county}"
                                f"&plan_year={YEAR}&format=xlsx&include_persons=true")
        assert "政府资助人员名单" in " ".join(load_workbook(io.BytesIO(xlsx.content)).sheetnames)

        summary = (await client.get(f"/v1/fund-summary?plan_year={YEAR}"
                                    f"&county_code={county}")).json()
        assert summary["totals"]["personal_contributions_fen"] == 80000
        assert summary["totals"]["government_proxy_payments_fen"] == 40000

    result = await rebuild(settings, limit_seconds=60)
    assert result.events_applied >= len(events) - 1
    async with running_app(create_app(infra.settings(consumers_enabled=False))) as client:
        after = (await client.get(url)).json()
        rem = (await client.get(f"/v1/reminders?village_code={village}&plan_year={YEAR}")).json()
    for key in ("totals", "rows", "categories", "daily"):
        assert after[key] == before[key], key
    # staff-recorded reasons survive a rebuild
    assert {r["person_id"]: r["reason"] for r in rem["rows"]}[late] == "other"
