from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "registration"
_COLUMNS = ("person_id, plan_year, status, reason, insured_category, county_code, "
            "township_code, village_code, registered_on, revision")


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
                       revision = :revision, updated_at = now()
                     WHERE person_id = :person_id AND plan_year = :plan_year"""),
            e.__dict__,
        )
