"""A person's group memberships (the groups a department certified them in) as stored, and the
person revision each change bumps."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "registration"


class MembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump_revision(self, person_id: uuid.UUID) -> int:
        """The person's next revision (the row must exist and be locked by the caller)."""
        revision: int = (await self.session.execute(
            text(f"UPDATE {S}.persons SET revision = revision + 1, updated_at = now() "
                 "WHERE id = :p RETURNING revision"), {"p": person_id})).scalar_one()
        return revision

    async def department(self, person_id: uuid.UUID, group_code: str) -> str | None:
        found: str | None = (await self.session.execute(
            text(f"SELECT department FROM {S}.group_memberships "
                 "WHERE person_id = :p AND group_code = :g"),
            {"p": person_id, "g": group_code})).scalar_one_or_none()
        return found

    async def put(self, person_id: uuid.UUID, m: Any) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.group_memberships
                       (person_id, group_code, certified_on, ends_on, later_birth_on, department)
                     VALUES (:p, :g, :c, :e, :l, :d)
                     ON CONFLICT (person_id, group_code) DO UPDATE SET
                       certified_on = EXCLUDED.certified_on, ends_on = EXCLUDED.ends_on,
                       later_birth_on = EXCLUDED.later_birth_on, department = EXCLUDED.department,
                       updated_at = now()"""),
            {"p": person_id, "g": m.group_code, "c": m.certified_on, "e": m.ends_on,
             "l": m.later_birth_on, "d": m.department},
        )

    async def delete(self, person_id: uuid.UUID, group_code: str) -> bool:
        """False when the person was not in the group."""
        result: Any = await self.session.execute(
            text(f"DELETE FROM {S}.group_memberships WHERE person_id = :p AND group_code = :g"),
            {"p": person_id, "g": group_code},
        )
        return bool(result.rowcount)
