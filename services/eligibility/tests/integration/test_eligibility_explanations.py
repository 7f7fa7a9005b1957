"""A determination's explanation (trace and assumptions) is stored once for everyone who shares
it (migration 0006): written by the per-person path, read back by a person's history beside the
rows that carry their own (written before the migration, or by the previous release while
replicas are replaced)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import orjson
from alembic import command
from sqlalchemy import text

from devtools.infra import create_database
from devtools.testing.infra import TestInfra
from services.eligibility.determinations.repository import DeterminationRepository
from shared.db import make_engine, make_sessionmaker
from shared.migrations import alembic_config, upgrade

YEAR = 2031  # no other test determines anyone for it
BEFORE = "0005_plans_registry"
TRACE = [{"rule_id": "payers", "matched": True, "outcome": "payers",
          "reason": "个人缴费 380 元（二(一)）", "reason_en": "the person pays 380 yuan"}]
OTHER_TRACE = [{"rule_id": "minimum_living_allowance", "matched": True, "outcome": "won",
                "reason": "低保对象：全额资助（二(二)1）", "reason_en": "fully subsidized"}]
ASSUMPTIONS = ["age_basis: 年龄按参保年度内达到的周岁计。"]


def _result(trace: list[dict[str, Any]]) -> dict[str, Any]:
    return {"policy_version": "v-test", "insured_category": "adult", "standard_fen": 38000,
            "personal_fen": 38000, "surcharge_fen": 0, "subsidies": [],
            "coverage_start": dt.date(YEAR, 1, 1), "on_time_until": None, "payable_until": None,
            "late": None, "assumptions": ASSUMPTIONS, "trace": trace, "enrolled": True,
            "region_code": "370481", "county_code": "370481",
            "township_code": "370481001000", "village_code": None}


async def test_people_with_the_same_explanation_share_one_row(infra: TestInfra) -> None:
    """Two people with the same trace and assumptions name one stored explanation, a third with
    another trace a second one; each person's history reads their own back."""
    engine = make_engine(infra.settings())
    people = [uuid.uuid4() for _ in range(3)]
    traces = [TRACE, TRACE, OTHER_TRACE]
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            repo = DeterminationRepository(session)
            for person, trace in zip(people, traces, strict=True):
                await repo.record(person, YEAR, _result(trace), "test")
        async with make_sessionmaker(engine)() as session:
            repo = DeterminationRepository(session)
            for person, trace in zip(people, traces, strict=True):
                (row,) = await repo.history(person, YEAR)
                assert (row["trace"], row["assumptions"]) == (trace, ASSUMPTIONS)
            ids = (await session.execute(text(
                "SELECT person_id, explanation_id FROM eligibility.determinations "
                "WHERE person_id = ANY(:p)"), {"p": people})).all()
        by_person = dict(ids)
        assert by_person[people[0]] == by_person[people[1]] != by_person[people[2]]
    finally:
        await engine.dispose()


_OLD_INSERT = text(
    "INSERT INTO eligibility.determinations (person_id, plan_year, policy_version, "
    "insured_category, standard_fen, personal_fen, surcharge_fen, subsidies, coverage_start, "
    "assumptions, trace, cause) VALUES (:p, :y, 'v-old', 'adult', 38000, 38000, 0, '[]', :d, "
    "CAST(:a AS jsonb), CAST(:t AS jsonb), 'test')")  # the previous release's insert


def _old_row(person: uuid.UUID, trace: list[dict[str, Any]]) -> dict[str, Any]:
    return {"p": person, "y": YEAR, "d": dt.date(YEAR, 1, 1),
            "a": orjson.dumps(ASSUMPTIONS).decode(), "t": orjson.dumps(trace).decode()}


async def test_the_migration_only_adds_and_both_releases_rows_read_back(
        infra: TestInfra) -> None:
    """0006 keeps the previous release working: rows it wrote before the migration and while
    replicas are replaced (its own insert, after the migration) read back beside this release's
    rows; the downgrade gives every row its own trace and assumptions again."""
    url = await create_database(infra.database_url, f"canbao_test_expl_{uuid.uuid4().hex[:8]}",
                                drop_first=True)
    await asyncio.to_thread(upgrade, "eligibility", url, BEFORE)
    engine = make_engine(infra.settings(database_url=url))
    before, during, new = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    expected = {before: TRACE, during: OTHER_TRACE, new: TRACE}
    try:
        async with engine.begin() as conn:
            await conn.execute(_OLD_INSERT, _old_row(before, TRACE))
        await asyncio.to_thread(upgrade, "eligibility", url)
        async with engine.begin() as conn:  # the previous release, still running
            await conn.execute(_OLD_INSERT, _old_row(during, OTHER_TRACE))
        async with make_sessionmaker(engine)() as session, session.begin():
            await DeterminationRepository(session).record(new, YEAR, _result(TRACE), "test")
        async with make_sessionmaker(engine)() as session:
            repo = DeterminationRepository(session)
            for person, trace in expected.items():
                (row,) = await repo.history(person, YEAR)
                assert (row["trace"], row["assumptions"]) == (trace, ASSUMPTIONS)
            stored = (await session.execute(text(
                "SELECT person_id, explanation_id IS NOT NULL, trace IS NULL "
                "FROM eligibility.determinations"))).all()
        # only this release's row names an explanation instead of carrying its own
        assert {r[0]: (r[1], r[2]) for r in stored} == {
            before: (False, False), during: (False, False), new: (True, True)}
        await engine.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config("eligibility", url), BEFORE)
        async with engine.connect() as conn:
            rows = dict((await conn.execute(text(
                "SELECT person_id, trace FROM eligibility.determinations"))).all())
        assert rows == expected
    finally:
        await engine.dispose()
