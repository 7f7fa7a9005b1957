from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.codes import group_name
from services.registration import events
from services.registration.persons.repository import PersonRepository
from shared.errors import NotFound
from shared.outbox import Outbox

S = "registration"


class MembershipService:
    def __init__(self, session: AsyncSession, outbox: Outbox) -> None:
        self.session = session
        self.outbox = outbox

    async def _bump_revision(self, person_id: uuid.UUID) -> int:
        if await PersonRepository(self.session).get(person_id, for_update=True) is None:
            raise NotFound("no such person", code="person_not_found")
        return (await self.session.execute(
            text(f"UPDATE {S}.persons SET revision = revision + 1, updated_at = now() "
                 "WHERE id = :p RETURNING revision"), {"p": person_id})).scalar_one()

    async def recorded_department(self, person_id: uuid.UUID, group_code: str) -> str | None:
        """The department the person's membership of the group is recorded for (the one whose
        list or officer certified it); None when there is none, or the bureau did not say."""
        return (await self.session.execute(
            text(f"SELECT department FROM {S}.group_memberships "
                 "WHERE person_id = :p AND group_code = :g"),
            {"p": person_id, "g": group_code})).scalar_one_or_none()

    async def put(self, person_id: uuid.UUID, m: Any) -> None:
        revision = await self._bump_revision(person_id)
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
        await self.outbox.add(
            self.session,
            events.membership_event(events.GroupMembershipAdded, person_id, m, revision),
            subject=str(person_id))

    async def remove(self, person_id: uuid.UUID, group_code: str) -> None:
        revision = await self._bump_revision(person_id)
        deleted = (await self.session.execute(
            text(f"DELETE FROM {S}.group_memberships WHERE person_id = :p AND group_code = :g"),
            {"p": person_id, "g": group_code},
        )).rowcount
        if not deleted:
            raise NotFound(f"person is not in group {group_code}", code="membership_not_found",
                           params={"group": group_name(group_code)})
        gone = SimpleNamespace(group_code=group_code, certified_on=None, ends_on=None,
                               later_birth_on=None)
        await self.outbox.add(
            self.session,
            events.membership_event(events.GroupMembershipRemoved, person_id, gone, revision),
            subject=str(person_id))
