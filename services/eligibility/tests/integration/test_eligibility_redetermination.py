"""Whole regions at once (resumable, only changes published) and what-if simulations."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.eligibility import AdjustmentDue, DeterminationChanged
from contracts.plan import PlanPublished
from devtools.testing.apps import running_app
from devtools.testing.events import assert_holds
from devtools.testing.infra import TestInfra
from kernels.policy import PolicyCatalog
from services.eligibility.app import create_app
from services.eligibility.commands import redetermine
from services.eligibility.determinations.service import DeterminationService
from services.eligibility.plans.registry import SEED_DIR, PlanRegistry
from services.eligibility.redeterminations.service import Redeterminator
from shared.db import make_engine, make_sessionmaker
from shared.outbox import Outbox

REGION, YEAR, N = "370827", 2024, 250  # Yutai 2024: no other test enrolls people there
POPULATION: list[uuid.UUID] = []
TOWNSHIPS = ("370827100000", "370827101000")


@pytest.fixture(scope="module")
async def engine(infra: TestInfra) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(infra.settings())
    ids = sorted(uuid.uuid4() for _ in range(N))
    async with engine.begin() as conn:
        for i, pid in enumerate(ids):
            await conn.execute(text(
                "INSERT INTO eligibility.persons VALUES (:p, :b, :c, :t, NULL, 1)"),
                {"p": pid, "b": dt.date(1940 + i % 80, 3, 1), "c": REGION,
                 "t": TOWNSHIPS[i % 2]})
            await conn.execute(text(
                "INSERT INTO eligibility.enrollments (person_id, plan_year, status, "
                "insured_category, registered_on, revision, county_code, township_code) "
                "VALUES (:p, :y, :s, :cat, '2023-10-01', 1, :c, :t)"),
                {"p": pid, "y": YEAR, "s": "stopped" if i % 50 == 7 else "registered",
                 "cat": "minor" if YEAR - (1940 + i % 80) < 18 else "adult",
                 "c": REGION, "t": TOWNSHIPS[i % 2]})
            if i % 10 == 3:
                await conn.execute(text(
                    "INSERT INTO eligibility.person_groups (person_id, group_code, revision) "
                    "VALUES (:p, 'minimum_living_allowance', 1)"), {"p": pid})
    POPULATION[:] = ids
    yield engine
    await engine.dispose()


async def scalar(engine: AsyncEngine, sql: str, **params: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_redetermination_is_resumable_and_publishes_only_changes(engine, infra) -> None:
    plans = PlanRegistry(PolicyCatalog.load(SEED_DIR))
    runner = Redeterminator(engine, plans, chunk_size=100)
    job = await runner.create(REGION, YEAR)
    assert job["total"] == N
    # the process stops after one chunk: progress is stored
    job = await runner.run(job["id"], max_chunks=1)
    assert (job["status"], job["processed"]) == ("running", 100)
    # "restart": a new runner continues after the last person of the stored chunk
    job = await Redeterminator(engine, plans, chunk_size=100).run(job["id"])
    assert (job["status"], job["processed"], job["changed"]) == ("done", N, N)
    assert await scalar(engine, "SELECT count(DISTINCT person_id) FROM eligibility."
                        "determinations WHERE plan_year = :y AND region_code = :r",
                        y=YEAR, r=REGION) == N
    assert await scalar(engine, "SELECT count(*) FROM eligibility.determinations "
                        "WHERE plan_year = :y AND region_code = :r", y=YEAR, r=REGION) == N
    events = await scalar(engine, "SELECT count(*) FROM eligibility.outbox WHERE "
                          "topic = 'eligibility.determination.v1' AND "
                          "data->>'region_code' = :r AND data->>'plan_year' = :y",
                          r=REGION, y=str(YEAR))
    assert events == N
    # the payloads the database built hold to their contract, unchanged by it
    async with engine.connect() as conn:
        built = (await conn.execute(text(
            "SELECT event_type, topic, data FROM eligibility.outbox WHERE "
            "data->>'region_code' = :r AND topic <> :plans"),
            {"r": REGION, "plans": PlanPublished.TOPIC})).all()
    assert {(t, topic) for t, topic, _ in built} == {
        (DeterminationChanged.TYPE, DeterminationChanged.TOPIC)}
    for _, _, data in built:
        assert_holds(DeterminationChanged, data)
    # both outcomes are published: Yutai 2024 三 on time to 12-31 (publicity week), late
    # the same 380 yuan (the plan names no surcharge), payable while a 3-month wait fits 2024
    assert await scalar(engine, "SELECT count(*) FROM eligibility.outbox WHERE "
                        "data->>'region_code' = :r AND data->>'on_time_until' = '2023-12-31' "
                        "AND data->>'payable_until' = '2024-09-30' AND "
                        "(data->'late'->>'personal_fen')::int = (data->>'personal_fen')::int",
                        r=REGION) == N - N // 50
    # the per-person figures agree with the per-person engine
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT enrolled, personal_fen, subsidies FROM eligibility.current_determinations "
            "WHERE plan_year = :y AND region_code = :r"), {"y": YEAR, "r": REGION})).all()
    assert sum(1 for r in rows if not r[0]) == N // 50
    assert {r[1] for r in rows if r[0]} >= {38000, 0}  # 低保 in Yutai: exempt
    # the plan's assumptions the results rest on are stored with them, as the per-person
    # path stores them (the unit tests compare them person by person)
    assert await scalar(engine, "SELECT count(*) FROM eligibility.determinations d "
                        "JOIN eligibility.explanations x ON x.id = d.explanation_id WHERE "
                        "plan_year = :y AND region_code = :r AND enrolled AND "
                        "jsonb_array_length(x.assumptions) > 0", y=YEAR, r=REGION) > 0
    # the explanations are stored once each: every determination names one, many share it
    assert await scalar(engine, "SELECT count(*) FROM eligibility.determinations d "
                        "LEFT JOIN eligibility.explanations x ON x.id = d.explanation_id "
                        "WHERE plan_year = :y AND region_code = :r AND x.id IS NULL",
                        y=YEAR, r=REGION) == 0
    shared = await scalar(engine, "SELECT count(DISTINCT explanation_id) FROM "
                          "eligibility.determinations WHERE plan_year = :y AND region_code = :r",
                          y=YEAR, r=REGION)
    assert 1 < shared <= N // 10
    # a person who paid, then is certified: re-running changes only them, adjustment due
    pid = POPULATION[34]  # born 1974-03-01, no group
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO eligibility.payment_entries VALUES ('CBX1', 1, :p, :y, 'paid', "
            "'person', 38000, now())"), {"p": pid, "y": YEAR})
        await conn.execute(text(
            "INSERT INTO eligibility.person_groups (person_id, group_code, revision) "
            "VALUES (:p, 'low_income_margin', 2)"), {"p": pid})
    job = await redetermine(REGION, YEAR, settings=infra.settings(), quiet=True)
    assert (job["status"], job["processed"], job["changed"], job["adjustments"]) == \
        ("done", N, 1, 1)
    async with engine.connect() as conn:
        adj = (await conn.execute(text(
            "SELECT data FROM eligibility.outbox WHERE partition_key = :k AND "
            "event_type = 'eligibility.adjustment_due.v1'"), {"k": str(pid)})).scalar_one()
    assert (adj["paid_fen"], adj["refund_due_fen"], adj["personal_fen"]) == (38000, 28000, 10000)
    assert_holds(AdjustmentDue, adj)


async def test_http_job_and_simulation(infra: TestInfra, engine) -> None:
    app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
    async with running_app(app) as client:
        r = await client.post("/v1/redeterminations", json={"region_code": REGION,
                                                             "plan_year": YEAR})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        for _ in range(100):
            job = (await client.get(f"/v1/redeterminations/{job_id}")).json()
            if job["status"] == "done":
                break
            await asyncio.sleep(0.05)
        assert job["status"] == "done" and job["processed"] == N
        r = await client.post("/v1/redeterminations", json={"region_code": "510100",
                                                             "plan_year": YEAR})
        assert r.status_code == 404
        current = (await client.get(f"/v1/plans/{REGION}/{YEAR}")).json()["content"]
        draft = dict(current)
        draft["standards"] = [{**s, "yuan": "400"} for s in current["standards"]]
        r = await client.post("/v1/simulations", json={"plan": draft})
        assert r.status_code == 200, r.text
        sim = r.json()
        enrolled = N - N // 50
        assert sim["population"] == enrolled
        assert sim["draft"]["headcount"] == sim["current"]["headcount"] == enrolled
        assert sim["draft"]["standard_fen"] - sim["current"]["standard_fen"] == enrolled * 2000
        assert {t["township_code"] for t in sim["townships"]} == set(TOWNSHIPS)
        assert "medical_assistance_fund" in sim["draft"]["budget_lines"]
        r = await client.post("/v1/simulations", json={"plan": "region_code: 370827\nbogus: 1"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_plan"
        # nothing was published by the simulation
        assert await scalar(engine, "SELECT count(*) FROM eligibility.outbox WHERE "
                            "data->>'policy_version' = :v", v=sim["draft_version"]) == 0


async def test_chunks_in_flight_commit_in_order_and_agree_with_the_per_person_path(
        engine) -> None:
    plans = PlanRegistry(PolicyCatalog.load(SEED_DIR))
    async with engine.begin() as conn:
        for pid in POPULATION[5::11]:
            await conn.execute(text(
                "INSERT INTO eligibility.person_groups (person_id, group_code, certified_on, "
                "revision) VALUES (:p, 'low_income_margin', '2023-06-01', 3) "
                "ON CONFLICT DO NOTHING"), {"p": pid})
    seen: list[int] = []
    # three chunks in flight, a new round (lock taken again) for every three
    runner = Redeterminator(engine, plans, chunk_size=20, connections=3, round_seconds=0,
                            progress=lambda j: seen.append(j["processed"]))
    job = await runner.run((await runner.create(REGION, YEAR))["id"])
    assert (job["status"], job["processed"]) == ("done", N) and job["changed"] > 0
    assert seen == list(range(20, N, 20)) + [N]  # committed in order, one chunk at a time
    again = await runner.run((await runner.create(REGION, YEAR))["id"])
    assert (again["status"], again["processed"], again["changed"]) == ("done", N, 0)
    # the per-person path, run now, finds every enrolled person's result already there
    async with make_sessionmaker(engine)() as session, session.begin():
        service = DeterminationService(session, Outbox("eligibility"), plans)
        for i, pid in enumerate(POPULATION):
            if i % 50 != 7:  # enrolled
                assert not await service.redetermine(pid, YEAR, "test"), pid
        await session.rollback()


async def test_a_failing_chunk_fails_the_job_after_the_chunks_before_it(
        engine, monkeypatch) -> None:
    from services.eligibility.redeterminations import service as redetermination

    real = redetermination.compute_staged

    def failing(policy, staged):  # type: ignore[no-untyped-def]
        if staged.last_person_id == POPULATION[59]:  # the third chunk of 20
            raise RuntimeError("boom")
        return real(policy, staged)

    monkeypatch.setattr(redetermination, "compute_staged", failing)
    plans = PlanRegistry(PolicyCatalog.load(SEED_DIR))
    runner = Redeterminator(engine, plans, chunk_size=20, connections=2)
    job = await runner.run((await runner.create(REGION, YEAR))["id"])
    assert (job["status"], job["processed"]) == ("failed", 40) and "boom" in job["error"]
    assert job["last_person_id"] == str(POPULATION[39])


async def test_a_chunk_that_meets_a_row_written_after_the_lock_was_lost_is_done_again(
        engine, monkeypatch) -> None:
    """If the guard loses the determination lock, per-person work may give someone of a chunk
    in flight a current row after the chunk found none: the chunk's insert of current rows then
    violates their key. The chunk is rolled back and done again in a later round, instead of
    failing the job, and that person's row is then replaced like anyone's."""
    from services.eligibility.redeterminations import service as redetermination

    plans = PlanRegistry(PolicyCatalog.load(SEED_DIR))
    real_keep = redetermination.repo.keep_changed
    real_holds = redetermination.repo.holds_determination_lock
    victims = POPULATION[100:120]  # the sixth chunk of 20
    async with engine.begin() as conn:  # these have no current row: the chunk inserts them
        await conn.execute(text(
            "DELETE FROM eligibility.current_determinations WHERE person_id = ANY(:p) "
            "AND plan_year = :y"), {"p": victims, "y": YEAR})
    lost: list[bool] = []

    async def keep_changed(conn, plan_year, region_code, after, last):  # type: ignore[no-untyped-def]
        n = await real_keep(conn, plan_year, region_code, after, last)
        if last == victims[-1] and not lost:  # per-person work, while the lock is lost
            async with engine.begin() as other:
                await other.execute(text(
                    "INSERT INTO eligibility.current_determinations (person_id, plan_year, "
                    "determination_id, policy_version, county_code, standard_fen, personal_fen, "
                    "subsidies) VALUES (:p, :y, 0, 'per-person', :c, 0, 0, '[]')"),
                    {"p": victims[0], "y": YEAR, "c": REGION})
            lost.append(True)
        return n

    async def holds(conn, pid):  # type: ignore[no-untyped-def]
        if lost == [True]:  # the check right after the violation: the lock is gone
            lost.append(False)
            return False
        return await real_holds(conn, pid)

    monkeypatch.setattr(redetermination.repo, "keep_changed", keep_changed)
    monkeypatch.setattr(redetermination.repo, "holds_determination_lock", holds)
    runner = Redeterminator(engine, plans, chunk_size=20, connections=1)
    job = await runner.run((await runner.create(REGION, YEAR))["id"])
    assert (job["status"], job["processed"]) == ("done", N) and lost == [True, False]
    async with engine.connect() as conn:
        version = (await conn.execute(text(
            "SELECT policy_version FROM eligibility.current_determinations WHERE person_id = :p "
            "AND plan_year = :y"), {"p": victims[0], "y": YEAR})).scalar_one()
        kept = (await conn.execute(text(
            "SELECT count(*) FROM eligibility.current_determinations WHERE person_id = ANY(:p) "
            "AND plan_year = :y"), {"p": victims, "y": YEAR})).scalar_one()
    assert version == plans.catalog.get(REGION, YEAR).version and kept == len(victims)
