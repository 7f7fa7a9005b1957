from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernels.codes import group_name
from services.registration import events
from services.registration.memberships.repository import MembershipRepository
from services.registration.persons.repository import PersonRepository
from shared.errors import NotFound
from shared.outbox import Outbox


class MembershipService:
    def __init__(self, session: AsyncSession, outbox: Outbox) -> None:
        self.session = session
        self.outbox = outbox
        self.repo = MembershipRepository(session)

    async def _bump_revision(self, person_id: uuid.UUID) -> int:
        if await PersonRepository(self.session).get(person_id, for_update=True) is None:
            raise NotFound("no such person", code="person_not_found")
        return await self.repo.bump_revision(person_id)

    async def recorded_department(self, person_id: uuid.UUID, group_code: str) -> str | None:
        """The department the person's membership of the group is recorded for (the one whose
        list or officer certified it); None when there is none, or the bureau did not say."""
        return await self.repo.department(person_id, group_code)

    async def put(self, person_id: uuid.UUID, m: Any) -> None:
        revision = await self._bump_revision(person_id)
        await self.repo.put(person_id, m)
        await self.outbox.add(
            self.session,
            events.membership_event(events.GroupMembershipAdded, person_id, m, revision),
            subject=str(person_id))

    async def remove(self, person_id: uuid.UUID, group_code: str) -> None:
        revision = await self._bump_revision(person_id)
        if not await self.repo.delete(person_id, group_code):
            raise NotFound(f"person is not in group {group_code}", code="membership_not_found",
                           params={"group": group_name(group_code)})
        gone = SimpleNamespace(group_code=group_code, certified_on=None, ends_on=None,
                               later_birth_on=None)
        await self.outbox.add(
            self.session,
            events.membership_event(events.GroupMembershipRemoved, person_id, gone, revision),
            subject=str(person_id))
