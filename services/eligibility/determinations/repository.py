"""Determinations with history: one current row per person and plan year, every version kept."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql

S = "eligibility"

# Determinations for a person and the bulk redetermination of a region must not interleave:
# per-person work takes this lock shared, a bulk chunk takes it exclusively.
DETERMINATION_LOCK = (1701603687, 0)

# the fields that make a result different; the plan version alone does not
COMPARED = ("enrolled", "region_code", "county_code", "township_code", "village_code",
            "insured_category", "standard_fen", "personal_fen", "surcharge_fen", "subsidies",
            "coverage_start", "on_time_until", "payable_until", "late")

_CURRENT = ("determination_id, policy_version, enrolled, region_code, county_code, township_code,"
            " village_code, insured_category, standard_fen, personal_fen, surcharge_fen,"
            " subsidies, coverage_start, on_time_until, payable_until, late, determined_at")


# a person's current determination replaced by a newer one (per person and set-wise)
REPLACED = ("determination_id", "policy_version", "county_code", "township_code",
             "village_code", "standard_fen", "personal_fen", "subsidies", "enrolled",
             "region_code", "insured_category", "surcharge_fen", "coverage_start",
             "determined_at", "on_time_until", "payable_until", "late")
REPLACE_CURRENT = ("ON CONFLICT (person_id, plan_year) DO UPDATE SET "
                   + ", ".join(f"{c} = EXCLUDED.{c}" for c in REPLACED))


# an explanation's id: a hash of its content (migration 0006), so that everyone whose
# determination rests on the same rules and assumptions shares one stored row (rows written
# before it, or by the previous release while replicas are replaced, have their own
# `assumptions` and `trace` columns instead: history reads either)
def explanation_id(assumptions: str, trace: str) -> str:
    """The SQL of the id of the explanation made of two jsonb expressions."""
    return f"md5(({assumptions})::text || ' ' || ({trace})::text)::uuid"


def same_result(current: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return current is not None and all(current[k] == new[k] for k in COMPARED)


class DeterminationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_shared(self) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock_shared(:a, :b)"),
                                   {"a": DETERMINATION_LOCK[0], "b": DETERMINATION_LOCK[1]})

    async def current(self, person_id: uuid.UUID, plan_year: int) -> dict[str, Any] | None:
        row = (await self.session.execute(text(
            f"SELECT {_CURRENT} FROM {S}.current_determinations "
            f"WHERE person_id = :id AND plan_year = :y FOR UPDATE"),
            {"id": person_id, "y": plan_year})).mappings().first()
        return dict(row) if row else None

    async def record(self, person_id: uuid.UUID, plan_year: int, result: dict[str, Any],
                     cause: str) -> tuple[int, dt.datetime]:
        """A new determination that becomes the current one; returns (id, determined_at)."""
        params = {
            "id": person_id, "y": plan_year, "v": result["policy_version"],
            "cat": result["insured_category"], "std": result["standard_fen"],
            "personal": result["personal_fen"], "sur": result["surcharge_fen"],
            "subs": orjson.dumps(result["subsidies"]).decode(),
            "cov": result["coverage_start"],
            "until": result.get("on_time_until"), "payable": result.get("payable_until"),
            "late": orjson.dumps(result["late"]).decode()
            if result.get("late") is not None else None,
            "assumptions": orjson.dumps(result["assumptions"]).decode(),
            "trace": orjson.dumps(result["trace"]).decode(), "cause": cause,
            "enrolled": result["enrolled"], "region": result["region_code"],
            "county": result["county_code"], "township": result["township_code"],
            "village": result["village_code"],
        }
        det_id, at = (await self.session.execute(text(f"""
            WITH x AS (
                SELECT {explanation_id("a", "t")} AS id, a, t
                FROM (SELECT CAST(:assumptions AS jsonb) AS a, CAST(:trace AS jsonb) AS t) v),
            stored AS (
                INSERT INTO {S}.explanations (id, assumptions, trace) SELECT id, a, t FROM x
                ON CONFLICT (id) DO NOTHING)
            INSERT INTO {S}.determinations (person_id, plan_year, policy_version,
                insured_category, standard_fen, personal_fen, surcharge_fen, subsidies,
                coverage_start, explanation_id, cause, enrolled, region_code, county_code,
                township_code, village_code, on_time_until, payable_until, late)
            SELECT :id, :y, :v, :cat, :std, :personal, :sur, CAST(:subs AS jsonb), :cov,
                   x.id, :cause, :enrolled, :region, :county, :township, :village, :until,
                   :payable, CAST(:late AS jsonb)
            FROM x
            RETURNING id, determined_at"""), params)).one()
        await self.session.execute(text(f"""
            INSERT INTO {S}.current_determinations (person_id, plan_year, determination_id,
                policy_version, county_code, township_code, village_code, standard_fen,
                personal_fen, subsidies, enrolled, region_code, insured_category, surcharge_fen,
                coverage_start, determined_at, on_time_until, payable_until, late)
            VALUES (:id, :y, :det, :v, :county, :township, :village, :std, :personal,
                    CAST(:subs AS jsonb), :enrolled, :region, :cat, :sur, :cov, :at, :until,
                    :payable, CAST(:late AS jsonb))
            {REPLACE_CURRENT}"""),
            {**params, "det": det_id, "at": at})
        return int(det_id), at

    async def history(self, person_id: uuid.UUID, plan_year: int) -> list[dict[str, Any]]:
        rows = (await self.session.execute(text(f"""
            SELECT d.id AS revision, policy_version, enrolled, region_code, county_code,
                   township_code, village_code, insured_category, standard_fen, personal_fen,
                   surcharge_fen, subsidies, coverage_start, on_time_until, payable_until, late,
                   coalesce(x.assumptions, d.assumptions) AS assumptions,
                   coalesce(x.trace, d.trace) AS trace, cause, determined_at
            FROM {S}.determinations d
                 LEFT JOIN {S}.explanations x ON x.id = d.explanation_id
            WHERE d.person_id = :id AND d.plan_year = :y
            ORDER BY d.id DESC"""), {"id": person_id, "y": plan_year})).mappings().all()
        return [dict(r) for r in rows]

    async def last_paid_on(self, person_id: uuid.UUID, plan_year: int) -> dt.date | None:
        """The day (Beijing) of the person's latest own payment for the year, as payments'
        events told us."""
        return (await self.session.execute(text(f"""
            SELECT (max(paid_at) AT TIME ZONE 'Asia/Shanghai')::date FROM {S}.payment_entries
            WHERE person_id = :id AND plan_year = :y AND payer = 'person' AND kind = 'paid'"""),
            {"id": person_id, "y": plan_year})).scalar_one_or_none()

    async def person_region(self, person_id: uuid.UUID, plan_year: int) -> str | None:
        """The narrowest region the person is registered in, as registration's events told us;
        else that of their current determination for the year, else the county their pending
        plan waits for. None when we know nothing of them."""
        return (await self.session.execute(text(f"""
            SELECT coalesce(
                (SELECT {narrowest_sql()} FROM {S}.persons WHERE person_id = :id),
                (SELECT {narrowest_sql('', 'region_code')}
                 FROM {S}.current_determinations WHERE person_id = :id AND plan_year = :y),
                (SELECT county_code FROM {S}.pending_plans
                 WHERE person_id = :id AND plan_year = :y))"""),
            {"id": person_id, "y": plan_year})).scalar_one_or_none()

    async def set_pending(self, person_id: uuid.UUID, plan_year: int, county_code: str) -> None:
        await self.session.execute(text(f"""
            INSERT INTO {S}.pending_plans (person_id, plan_year, county_code)
            VALUES (:id, :y, :c)
            ON CONFLICT (person_id, plan_year) DO UPDATE SET county_code = EXCLUDED.county_code
            """), {"id": person_id, "y": plan_year, "c": county_code})

    async def clear_pending(self, person_id: uuid.UUID, plan_year: int) -> None:
        await self.session.execute(text(
            f"DELETE FROM {S}.pending_plans WHERE person_id = :id AND plan_year = :y"),
            {"id": person_id, "y": plan_year})

    async def pending(self, person_id: uuid.UUID, plan_year: int) -> dict[str, Any] | None:
        row = (await self.session.execute(text(
            f"SELECT county_code, since FROM {S}.pending_plans "
            f"WHERE person_id = :id AND plan_year = :y"),
            {"id": person_id, "y": plan_year})).mappings().first()
        return dict(row) if row else None

    async def pending_batch(self, after: tuple[uuid.UUID, int] | None,
                            limit: int) -> list[tuple[uuid.UUID, int, str]]:
        a = after or (uuid.UUID(int=0), 0)
        rows = (await self.session.execute(text(f"""
            SELECT person_id, plan_year, county_code FROM {S}.pending_plans
            WHERE (person_id, plan_year) > (:p, :y) ORDER BY person_id, plan_year LIMIT :n"""),
            {"p": a[0], "y": a[1], "n": limit})).all()
        return [(r[0], r[1], r[2]) for r in rows]
