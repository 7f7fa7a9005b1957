"""Determinations that follow the people: registration and payments events in, determinations
(with history) and determination events out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eligibility_helpers import enrollment_event, group_event, payment_event, person_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.eligibility.app import create_app
from services.eligibility.facts.handlers import build_router
from services.eligibility.plans.registry import PlanRegistry
from shared.db import make_engine, make_sessionmaker
from shared.events import CloudEvent
from shared.kafka import ensure_topics, make_producer
from shared.outbox import Outbox
from shared.topics import (
    REGISTRATION_ENROLLMENT,
    REGISTRATION_GROUP_MEMBERSHIP,
    REGISTRATION_PERSON,
)

PLANS = PlanRegistry.from_folder(None)
HANDLE = build_router(PLANS, Outbox("eligibility"))


@pytest.fixture(scope="module")
async def engine(infra: TestInfra) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(infra.settings())
    yield engine
    await engine.dispose()


async def deliver(engine: AsyncEngine, *events: CloudEvent) -> None:
    """What the inbox consumer does with each event: the handler inside one transaction."""
    for event in events:
        async with make_sessionmaker(engine)() as session, session.begin():
            await HANDLE(session, event)


async def events_for(engine: AsyncEngine, pid: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT event_type, data FROM eligibility.outbox WHERE partition_key = :k "
            "ORDER BY seq"), {"k": str(pid)})).all()
    return [(r[0], r[1]) for r in rows]


async def history(engine: AsyncEngine, pid: uuid.UUID, year: int = 2025) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT id, enrolled, personal_fen, subsidies, policy_version FROM "
            "eligibility.determinations WHERE person_id = :p AND plan_year = :y ORDER BY id"),
            {"p": pid, "y": year})).mappings().all()
    return [dict(r) for r in rows]


async def test_facts_in_any_order_give_one_determination_per_change(engine) -> None:
    pid = uuid.uuid4()
    # the enrollment arrives before the person: nothing can be decided yet
    await deliver(engine, enrollment_event(pid, 1))
    assert await history(engine, pid) == []
    await deliver(engine, person_event(pid, 1))
    h = await history(engine, pid)
    assert [d["personal_fen"] for d in h] == [40000]
    # certified 低保 (person revision 3), then a stale person revision 2 arrives late
    await deliver(engine, group_event(pid, 3))
    await deliver(engine, person_event(pid, 2, birth="1950-01-01", type_="changed"))
    await deliver(engine, group_event(pid, 2, removed=True))  # older than the add: ignored
    h = await history(engine, pid)
    assert [d["personal_fen"] for d in h] == [40000, 0]
    # the same event again, and an identical result: nothing new
    await deliver(engine, group_event(pid, 3), person_event(pid, 1))
    assert len(await history(engine, pid)) == 2
    events = await events_for(engine, pid)
    assert [t for t, _ in events] == ["eligibility.determination_changed.v1"] * 2
    last = events[-1][1]
    assert last["revision"] == h[-1]["id"] and last["region_code"] == "370481"
    assert last["subsidies"] == [{"rule_id": last["subsidies"][0]["rule_id"],
                                  "funding_source": "medical_assistance_fund",
                                  "amount_fen": 40000}]
    assert last["personal_fen"] + sum(s["amount_fen"] for s in last["subsidies"]) == \
        last["standard_fen"] + last["surcharge_fen"]


async def test_adjustment_due_when_certified_after_paying(engine) -> None:
    pid = uuid.uuid4()
    await deliver(engine, person_event(pid, 1), enrollment_event(pid, 1))
    await deliver(engine, payment_event(pid, 40000), payment_event(pid, 40000))  # duplicate
    await deliver(engine, group_event(pid, 2))  # certified 低保 after paying 400 yuan
    types = [t for t, _ in await events_for(engine, pid)]
    assert types == ["eligibility.determination_changed.v1",
                     "eligibility.determination_changed.v1", "eligibility.adjustment_due.v1"]
    adj = (await events_for(engine, pid))[-1][1]
    assert (adj["paid_fen"], adj["refund_due_fen"], adj["personal_fen"]) == (40000, 40000, 0)


async def test_stopped_enrollment_and_missing_plan(engine) -> None:
    pid = uuid.uuid4()
    await deliver(engine, person_event(pid, 1), enrollment_event(pid, 1))
    await deliver(engine, enrollment_event(pid, 2, status="stopped"))
    await deliver(engine, enrollment_event(pid, 1))  # stale: ignored
    h = await history(engine, pid)
    assert [(d["enrolled"], d["personal_fen"]) for d in h] == [(True, 40000), (False, 0)]
    # enrolled where no plan exists for the year: pending, nothing due, nothing raised
    other = uuid.uuid4()
    await deliver(engine, person_event(other, 1, county="510104", township="510104001000"),
                  enrollment_event(other, 1, county="510104", township="510104001000"))
    assert await history(engine, other) == []
    async with engine.connect() as conn:
        pending = (await conn.execute(text(
            "SELECT county_code FROM eligibility.pending_plans WHERE person_id = :p"),
            {"p": other})).scalar_one()
    assert pending == "510104"


async def test_through_the_broker_duplicates_applied_once(infra: TestInfra) -> None:
    settings = infra.settings()
    app = create_app(settings)
    pid = uuid.uuid4()
    await ensure_topics(settings, {REGISTRATION_PERSON, REGISTRATION_ENROLLMENT,
                                   REGISTRATION_GROUP_MEMBERSHIP})
    producer = make_producer(settings)
    await producer.start()
    try:
        async with running_app(app) as client:
            certified = group_event(pid, 2, code="extreme_poverty")
            for topic, event in [(REGISTRATION_PERSON, person_event(pid, 1)),
                                 (REGISTRATION_ENROLLMENT, enrollment_event(pid, 1)),
                                 (REGISTRATION_GROUP_MEMBERSHIP, certified),
                                 (REGISTRATION_GROUP_MEMBERSHIP, certified)]:
                key, value, headers = event.to_kafka()
                await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            body: dict[str, Any] = {}
            for _ in range(150):
                r = await client.get(f"/v1/determinations/{pid}/2025")
                body = r.json()
                if r.status_code == 200 and body["current"]["personal_fen"] == 0:
                    break
                await asyncio.sleep(0.1)
            assert body["current"]["personal_fen"] == 0, body
            await asyncio.sleep(0.5)
            r = await client.get(f"/v1/determinations/{pid}/2025")
            body = r.json()
            # person+enrollment may be applied together or apart; the certification once
            assert body["history"][0]["subsidies"][0]["funding_source"] == \
                "medical_assistance_fund"
            assert sum(1 for d in body["history"] if d["personal_fen"] == 0) == 1
            assert all("trace" in d for d in body["history"])
    finally:
        await producer.stop()


async def test_the_determination_event_carries_both_outcomes(engine) -> None:
    """Tengzhou 2021 二(三): 低保 is paid by the city if paid by 2021-01-20
    (政府资助人员可延长1个月); late, the person pays 280 + the 550 fiscal floor, no subsidy."""
    pid = uuid.uuid4()
    await deliver(engine, person_event(pid, 1, birth="1985-06-01"),
                  enrollment_event(pid, 1, year=2021),
                  group_event(pid, 1, certified_on="2020-10-01"))
    (_, data), = [e for e in await events_for(engine, pid)
                  if e[0] == "eligibility.determination_changed.v1"][-1:]
    assert (data["personal_fen"], data["coverage_start"]) == (0, "2021-01-01")
    assert (data["on_time_until"], data["payable_until"]) == ("2021-01-20", "2021-12-01")
    assert data["late"] == {"personal_fen": 83000, "surcharge_fen": 55000, "subsidies": [],
                            "insured_category": "adult"}
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT on_time_until, late FROM eligibility.current_determinations "
            "WHERE person_id = :p AND plan_year = 2021"), {"p": pid})).one()
    assert row[0].isoformat() == "2021-01-20" and row[1]["personal_fen"] == 83000


async def test_an_impossible_declared_category_is_priced_by_the_birth_date(engine) -> None:
    """Pingyin 2025 二: 少年儿童（含中小学生）390 元, 大学生 240 元. A 10-year-old enrolled as
    `student` cannot be a university student: the live path neither fails (the event would be
    dead-lettered and the person never billed) nor bills 240; it prices the child at the
    category the birth date gives (minor, 390), as the bulk redetermination does."""
    pid = uuid.uuid4()
    await deliver(engine, person_event(pid, 1, birth="2014-05-01", county="370124",
                                       township="370124001000"),
                  enrollment_event(pid, 1, county="370124", township="370124001000",
                                   category="student"))
    (_, data), = [e for e in await events_for(engine, pid)
                  if e[0] == "eligibility.determination_changed.v1"]
    assert (data["insured_category"], data["personal_fen"]) == ("minor", 39000)
