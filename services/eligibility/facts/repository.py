"""Eligibility's own copy of the person facts registration and payments publish.

Every write is conditional on the revision: an event whose revision is not newer than what is
held changes nothing (duplicates and reordering across topics)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "eligibility"


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class PersonRow:
    person_id: uuid.UUID
    birth_date: dt.date
    county_code: str
    township_code: str | None
    village_code: str | None


@dataclass(frozen=True)
class GroupRow:
    group_code: str
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None


@dataclass(frozen=True)
class EnrollmentRow:
    plan_year: int
    status: str
    insured_category: str
    registered_on: dt.date
    county_code: str
    township_code: str | None
    village_code: str | None


class FactsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def apply_person(self, d: dict[str, Any]) -> bool:
        row = (await self.session.execute(text(f"""
            INSERT INTO {S}.persons AS p (person_id, birth_date, county_code, township_code,
                                          village_code, revision)
            VALUES (:id, :birth, :county, :township, :village, :rev)
            ON CONFLICT (person_id) DO UPDATE SET birth_date = EXCLUDED.birth_date,
                county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code,
                village_code = EXCLUDED.village_code, revision = EXCLUDED.revision
            WHERE p.revision < EXCLUDED.revision
            RETURNING 1"""), {
            "id": uuid.UUID(d["person_id"]), "birth": _date(d["birth_date"]),
            "county": d["county_code"], "township": d.get("township_code"),
            "village": d.get("village_code"), "rev": int(d["revision"]),
        })).first()
        return row is not None

    async def apply_membership(self, d: dict[str, Any], removed: bool) -> bool:
        row = (await self.session.execute(text(f"""
            INSERT INTO {S}.person_groups AS g (person_id, group_code, certified_on, ends_on,
                                                later_birth_on, revision, removed)
            VALUES (:id, :code, :cert, :ends, :later, :rev, :removed)
            ON CONFLICT (person_id, group_code) DO UPDATE SET
                certified_on = EXCLUDED.certified_on, ends_on = EXCLUDED.ends_on,
                later_birth_on = EXCLUDED.later_birth_on, revision = EXCLUDED.revision,
                removed = EXCLUDED.removed
            WHERE g.revision < EXCLUDED.revision
            RETURNING 1"""), {
            "id": uuid.UUID(d["person_id"]), "code": d["group_code"],
            "cert": _date(d.get("certified_on")), "ends": _date(d.get("ends_on")),
            "later": _date(d.get("later_birth_on")), "rev": int(d["revision"]),
            "removed": removed,
        })).first()
        return row is not None

    async def apply_enrollment(self, d: dict[str, Any]) -> bool:
        row = (await self.session.execute(text(f"""
            INSERT INTO {S}.enrollments AS e (person_id, plan_year, status, reason,
                insured_category, registered_on, county_code, township_code, village_code,
                revision)
            VALUES (:id, :year, :status, :reason, :cat, :registered, :county, :township,
                    :village, :rev)
            ON CONFLICT (person_id, plan_year) DO UPDATE SET status = EXCLUDED.status,
                reason = EXCLUDED.reason, insured_category = EXCLUDED.insured_category,
                registered_on = EXCLUDED.registered_on, county_code = EXCLUDED.county_code,
                township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
                revision = EXCLUDED.revision
            WHERE e.revision < EXCLUDED.revision
            RETURNING 1"""), {
            "id": uuid.UUID(d["person_id"]), "year": int(d["plan_year"]), "status": d["status"],
            "reason": d.get("reason"), "cat": d["insured_category"],
            "registered": _date(d["registered_on"]), "county": d["county_code"],
            "township": d.get("township_code"), "village": d.get("village_code"),
            "rev": int(d["revision"]),
        })).first()
        return row is not None

    async def apply_payment(self, d: dict[str, Any]) -> bool:
        row = (await self.session.execute(text(f"""
            INSERT INTO {S}.payment_entries (order_no, revision, person_id, plan_year, kind,
                                             payer, amount_fen, paid_at)
            VALUES (:order, :rev, :id, :year, :kind, :payer, :amount, :paid_at)
            ON CONFLICT DO NOTHING RETURNING 1"""), {
            "order": d["order_no"], "rev": int(d["revision"]), "id": uuid.UUID(d["person_id"]),
            "year": int(d["plan_year"]), "kind": d["kind"], "payer": d.get("payer", "person"),
            "amount": int(d["amount_fen"]),
            "paid_at": dt.datetime.fromisoformat(d["paid_at"]) if d.get("paid_at") else None,
        })).first()
        return row is not None

    async def person(self, person_id: uuid.UUID) -> PersonRow | None:
        row = (await self.session.execute(text(
            f"SELECT person_id, birth_date, county_code, township_code, village_code "
            f"FROM {S}.persons WHERE person_id = :id"), {"id": person_id})).first()
        return PersonRow(*row) if row else None

    async def groups(self, person_id: uuid.UUID) -> list[GroupRow]:
        rows = (await self.session.execute(text(
            f"SELECT group_code, certified_on, ends_on, later_birth_on FROM {S}.person_groups "
            f"WHERE person_id = :id AND NOT removed ORDER BY group_code"),
            {"id": person_id})).all()
        return [GroupRow(*r) for r in rows]

    async def enrollment(self, person_id: uuid.UUID, plan_year: int) -> EnrollmentRow | None:
        row = (await self.session.execute(text(
            f"SELECT plan_year, status, insured_category, registered_on, county_code, "
            f"township_code, village_code FROM {S}.enrollments "
            f"WHERE person_id = :id AND plan_year = :y"),
            {"id": person_id, "y": plan_year})).first()
        return EnrollmentRow(*row) if row else None

    async def plan_years(self, person_id: uuid.UUID) -> list[int]:
        rows = (await self.session.execute(text(
            f"SELECT plan_year FROM {S}.enrollments WHERE person_id = :id ORDER BY plan_year"),
            {"id": person_id})).all()
        return [r[0] for r in rows]

    async def paid_fen(self, person_id: uuid.UUID, plan_year: int) -> int:
        """What the person paid themselves for the year, net of refunds and reversals."""
        value = (await self.session.execute(text(f"""
            SELECT coalesce(sum(CASE WHEN kind = 'paid' THEN amount_fen ELSE -amount_fen END), 0)
            FROM {S}.payment_entries
            WHERE person_id = :id AND plan_year = :y AND payer = 'person'"""),
            {"id": person_id, "y": plan_year})).scalar_one()
        return int(value)
