"""Persons payments can bill (from registration) and their current determinations (from
eligibility). Both are upserts guarded by the aggregate's revision: older events are no-ops."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql, within_sql
from services.payments.coverage import PriorYear

S = "payments"


@dataclass
class DueRow:
    person_id: uuid.UUID
    plan_year: int
    revision: int
    enrolled: bool
    region_code: str
    insured_category: str | None
    standard_fen: int
    personal_fen: int
    subsidies: list[dict[str, Any]]
    coverage_start: dt.date | None
    birth_date: dt.date | None
    county_code: str | None
    township_code: str | None
    village_code: str | None
    surcharge_fen: int = 0
    on_time_until: dt.date | None = None
    payable_until: dt.date | None = None
    late: dict[str, Any] | None = None

    def subsidy_of(self, budget_line: str) -> int:
        return sum(int(s["amount_fen"]) for s in self.subsidies
                   if s.get("funding_source") == budget_line)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# a DueRow: the person's current due, with the region registration knows where it has none
SELECT_DUE = f"""SELECT d.person_id, d.plan_year, d.revision, d.enrolled, d.region_code,
       d.insured_category, d.standard_fen, d.personal_fen, d.subsidies,
       d.coverage_start, p.birth_date,
       coalesce(d.county_code, p.county_code),
       coalesce(d.township_code, p.township_code),
       coalesce(d.village_code, p.village_code),
       d.surcharge_fen, d.on_time_until, d.payable_until, d.late
FROM {S}.dues d LEFT JOIN {S}.persons p USING (person_id)"""


_GET = {lock: text(f"{SELECT_DUE} WHERE d.person_id = :p AND d.plan_year = :y{lock}")
        for lock in ("", " FOR SHARE OF d")}


class DueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_person(self, d: dict[str, Any]) -> bool:
        result = await self.session.execute(text(
            f"""INSERT INTO {S}.persons (person_id, id_number_hash, id_number_masked, name_masked,
                    birth_date, county_code, township_code, village_code, revision)
                VALUES (:person_id, :id_number_hash, :id_number_masked, :name_masked, :birth_date,
                        :county_code, :township_code, :village_code, :revision)
                ON CONFLICT (person_id) DO UPDATE SET
                    id_number_hash = EXCLUDED.id_number_hash,
                    id_number_masked = EXCLUDED.id_number_masked,
                    name_masked = EXCLUDED.name_masked, birth_date = EXCLUDED.birth_date,
                    county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code,
                    village_code = EXCLUDED.village_code, revision = EXCLUDED.revision
                WHERE {S}.persons.revision < EXCLUDED.revision"""),
            {"person_id": uuid.UUID(d["person_id"]), "id_number_hash": d["id_number_hash"],
             "id_number_masked": d["id_number_masked"], "name_masked": d["name_masked"],
             "birth_date": _date(d.get("birth_date")), "county_code": d["county_code"],
             "township_code": d.get("township_code"), "village_code": d.get("village_code"),
             "revision": int(d["revision"])})
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def upsert_due(self, d: dict[str, Any]) -> bool:
        """True when this determination is now the current one (newer than what we held)."""
        result = await self.session.execute(text(
            f"""INSERT INTO {S}.dues (person_id, plan_year, revision, enrolled, region_code,
                    county_code, township_code, village_code, policy_version, insured_category,
                    standard_fen, personal_fen, surcharge_fen, subsidies, coverage_start,
                    on_time_until, payable_until, late, updated_at)
                VALUES (:person_id, :plan_year, :revision, :enrolled, :region_code, :county_code,
                        :township_code, :village_code, :policy_version, :insured_category,
                        :standard_fen, :personal_fen, :surcharge_fen, CAST(:subsidies AS jsonb),
                        :coverage_start, :on_time_until, :payable_until, CAST(:late AS jsonb),
                        now())
                ON CONFLICT (person_id, plan_year) DO UPDATE SET
                    revision = EXCLUDED.revision, enrolled = EXCLUDED.enrolled,
                    region_code = EXCLUDED.region_code, county_code = EXCLUDED.county_code,
                    township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
                    policy_version = EXCLUDED.policy_version,
                    insured_category = EXCLUDED.insured_category,
                    standard_fen = EXCLUDED.standard_fen, personal_fen = EXCLUDED.personal_fen,
                    surcharge_fen = EXCLUDED.surcharge_fen, subsidies = EXCLUDED.subsidies,
                    coverage_start = EXCLUDED.coverage_start,
                    on_time_until = EXCLUDED.on_time_until,
                    payable_until = EXCLUDED.payable_until, late = EXCLUDED.late,
                    updated_at = now()
                WHERE {S}.dues.revision < EXCLUDED.revision"""),
            {"person_id": uuid.UUID(d["person_id"]), "plan_year": int(d["plan_year"]),
             "revision": int(d["revision"]), "enrolled": bool(d.get("enrolled", True)),
             "region_code": d.get("region_code") or d.get("county_code") or "",
             "county_code": d.get("county_code"), "township_code": d.get("township_code"),
             "village_code": d.get("village_code"),
             "policy_version": d.get("policy_version") or "",
             "insured_category": d.get("insured_category"),
             "standard_fen": int(d.get("standard_fen", 0)),
             "personal_fen": int(d.get("personal_fen", 0)),
             "surcharge_fen": int(d.get("surcharge_fen", 0)),
             "subsidies": orjson.dumps(d.get("subsidies") or []).decode(),
             "coverage_start": _date(d.get("coverage_start")),
             "on_time_until": _date(d.get("on_time_until")),
             "payable_until": _date(d.get("payable_until")),
             "late": orjson.dumps(d["late"]).decode() if d.get("late") is not None else None})
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def get(self, person_id: uuid.UUID, plan_year: int, *,
                  lock: bool = False) -> DueRow | None:
        row = (await self.session.execute(_GET[" FOR SHARE OF d" if lock else ""],
                                          {"p": person_id, "y": plan_year})).first()
        return DueRow(*row) if row else None

    async def many(self, person_ids: list[uuid.UUID], plan_year: int) -> dict[uuid.UUID, DueRow]:
        rows = (await self.session.execute(text(
            f"{SELECT_DUE} WHERE d.person_id = ANY(:ids) AND d.plan_year = :y"),
            {"ids": person_ids, "y": plan_year})).all()
        return {r[0]: DueRow(*r) for r in rows}

    async def prior_years(self, person_id: uuid.UUID, plan_year: int) -> dict[int, PriorYear]:
        """The person's earlier plan years as payments holds them: the determination and the
        first payment of a paid order (refunded or reversed orders are not paid)."""
        rows = (await self.session.execute(text(
            f"""SELECT d.plan_year, d.enrolled, d.personal_fen,
                       (SELECT min(o.paid_at) FROM {S}.orders o WHERE o.person_id = d.person_id
                          AND o.plan_year = d.plan_year AND o.status = 'paid')
                FROM {S}.dues d WHERE d.person_id = :p AND d.plan_year < :y"""),
            {"p": person_id, "y": plan_year})).all()
        return {r[0]: PriorYear(r[0], r[1], int(r[2]), r[3]) for r in rows}

    async def first_plan_year(self, region_code: str) -> int | None:
        """The first plan year payments holds a determination for in this region."""
        return (await self.session.execute(text(
            f"SELECT min(plan_year) FROM {S}.dues WHERE region_code = :r"),
            {"r": region_code})).scalar()

    async def regions_of(self, person_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        """The region of each person: registration's (village, else township, else county),
        else the latest determination's; None for persons payments knows nothing about."""
        return {pid: region for pid, region in
                (await self.session.execute(_REGIONS, {"ids": person_ids})).all()}


_REGIONS = text(f"""
    SELECT x.pid, coalesce({narrowest_sql('p')}, {narrowest_sql('d', 'region_code')})
    FROM unnest(CAST(:ids AS uuid[])) AS x(pid)
    LEFT JOIN {S}.persons p ON p.person_id = x.pid
    LEFT JOIN LATERAL (SELECT village_code, township_code, county_code, region_code
                       FROM {S}.dues WHERE person_id = x.pid
                       ORDER BY plan_year DESC LIMIT 1) d ON true""")


def visible_person_sql(person: str) -> str:
    """A WHERE condition for lists (repositories only): the person `person` lies in the region
    bound to :rp (Principal.region_filter; NULL: every region). `person` is an SQL uuid
    expression: qualify columns with their table (payments.refunds.person_id), or the
    subqueries take their own. The region is found as `regions_of` finds it; persons payments
    knows nothing about, and NULL, pass."""
    region = f"""coalesce(
        (SELECT {narrowest_sql('p')} FROM {S}.persons p WHERE p.person_id = {person}),
        (SELECT {narrowest_sql('d', 'region_code')}
         FROM {S}.dues d WHERE d.person_id = {person}
         ORDER BY d.plan_year DESC LIMIT 1),
        :rp)"""
    return f"(CAST(:rp AS text) IS NULL OR {within_sql(region)})"
