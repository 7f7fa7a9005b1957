from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "registration"
_COLUMNS = ("person_id, plan_year, status, reason, insured_category, county_code, "
            "township_code, village_code, registered_on, revision")
# a person on an employee-scheme list (an enrollee, or a pensioner: insured in the employee
# scheme) whose status is not stopped or ended, on any region's list
ACTIVE_EMPLOYEE_SCHEME = f"""EXISTS (SELECT 1 FROM {S}.reference_persons r
    WHERE r.kind IN ('employee_insurance', 'employee_pension') AND r.active
      AND r.id_number_hash = p.id_number_hash)"""


@dataclass
class EnrollmentRow:
    person_id: uuid.UUID
    plan_year: int
    status: str
    reason: str | None
    insured_category: str
    county_code: str
    township_code: str | None
    village_code: str | None
    registered_on: dt.date
    revision: int


class EnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: uuid.UUID, plan_year: int) -> EnrollmentRow | None:
        row = (await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM {S}.enrollments WHERE person_id = :p AND plan_year = :y"),
            {"p": person_id, "y": plan_year},
        )).first()
        return EnrollmentRow(*row) if row else None

    async def insert(self, e: EnrollmentRow) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.enrollments ({_COLUMNS})
                     VALUES (:person_id, :plan_year, :status, :reason, :insured_category,
                             :county_code, :township_code, :village_code, :registered_on,
                             :revision)"""),
            e.__dict__,
        )

    async def update_status(self, e: EnrollmentRow) -> None:
        await self.session.execute(
            text(f"""UPDATE {S}.enrollments SET status = :status, reason = :reason,
                       insured_category = :insured_category, county_code = :county_code,
                       township_code = :township_code, village_code = :village_code,
                       registered_on = :registered_on, revision = :revision, updated_at = now()
                     WHERE person_id = :person_id AND plan_year = :plan_year"""),
            e.__dict__,
        )

    async def in_employee_scheme(self, person_id: uuid.UUID) -> bool:
        return bool((await self.session.execute(
            text(f"SELECT {ACTIVE_EMPLOYEE_SCHEME} FROM {S}.persons p WHERE p.id = :p"),
            {"p": person_id})).scalar())

    async def parent_has_residence_permit(self, person_id: uuid.UUID) -> bool:
        return bool((await self.session.execute(
            text(f"""SELECT EXISTS (SELECT 1 FROM {S}.persons p JOIN {S}.persons m
                       ON m.household_id = p.household_id AND m.id <> p.id
                     WHERE p.id = :p AND m.residence_permit
                       AND m.birth_date < p.birth_date - interval '14 years')"""),
            {"p": person_id})).scalar())

    async def rollover(self, from_year: int, to_year: int, county: str | None,
                       registered_on: dt.date) -> list[EnrollmentRow]:
        """Everyone registered in `from_year` (and not since found in the employee scheme)
        enrolled in `to_year`, where not enrolled yet; category re-derived for the new year."""
        rows = await self.session.execute(
            text(f"""INSERT INTO {S}.enrollments ({_COLUMNS})
                     SELECT e.person_id, :to, 'registered', NULL,
                       CASE WHEN p.school IS NOT NULL THEN 'student'
                            WHEN p.birth_date > make_date(:to, 1, 1) - interval '18 years'
                              THEN 'minor' ELSE 'adult' END,
                       p.county_code, p.township_code, p.village_code, :on, 1
                     FROM {S}.enrollments e JOIN {S}.persons p ON p.id = e.person_id
                     WHERE e.plan_year = :from AND e.status = 'registered'
                       AND (CAST(:county AS text) IS NULL OR p.county_code = :county)
                       AND NOT {ACTIVE_EMPLOYEE_SCHEME}
                     ON CONFLICT (person_id, plan_year) DO NOTHING
                     RETURNING {_COLUMNS}"""),
            {"from": from_year, "to": to_year, "county": county, "on": registered_on})
        return [EnrollmentRow(*r) for r in rows]
