from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.registration import PersonPayload
from kernels.regions.codes import narrowest
from services.registration import events
from services.registration.persons.repository import (
    SNAPSHOT_FIELDS,
    PersonRepository,
    PersonRow,
)
from services.registration.persons.schemas import PersonCreate, PersonUpdate
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.idnumber import IdNumber, InvalidIdNumber, parse_id_number
from shared.outbox import Outbox
from shared.pii import PiiVault
from shared.service import AuditedRead, ReadAudit

HEAD = "户主"


def parse_or_422(id_number: str) -> IdNumber:
    try:
        return parse_id_number(id_number)
    except InvalidIdNumber as exc:
        raise Invalid(f"id_number: {exc}", field="id_number", code="invalid_id_number",
                      params={"reason": exc.text}) from None


def check_village(township_code: str | None, village_code: str | None) -> None:
    if village_code and township_code and not village_code.startswith(township_code[:9]):
        raise Invalid("village_code is not in township_code", field="village_code",
                      code="village_not_in_township")


class PersonService:
    def __init__(self, session: AsyncSession, outbox: Outbox, vault: PiiVault) -> None:
        self.session = session
        self.outbox = outbox
        self.vault = vault
        self.repo = PersonRepository(session)

    async def register(self, data: PersonCreate, *, household_id: uuid.UUID | None = None) -> PersonRow:
        ident = parse_or_422(data.id_number)
        check_village(data.township_code, data.village_code)
        id_hash = self.vault.lookup_hash(ident.value)
        if await self.repo.by_hash(self.vault.lookup_hashes(ident.value)) is not None:
            raise Conflict("a person with this ID number is already registered",
                           code="person_exists")
        person_id = uuid.uuid4()
        if household_id is None and data.household_no:
            household_id = await self.repo.household_id(data.household_no, data.village_code)
        values = {
            "id": person_id,
            "id_number_hash": id_hash,
            "id_number_enc": self.vault.encrypt(ident.value),
            "id_number_masked": ident.masked,
            "name": data.name,
            "birth_date": ident.birth_date,
            "sex": ident.sex,
            "phone": data.phone,
            "household_id": household_id,
            "relation_to_head": data.relation_to_head,
            "hukou_region_code": data.hukou_region_code,
            "county_code": data.township_code[:6],
            "township_code": data.township_code,
            "village_code": data.village_code,
            "residence_permit": data.residence_permit,
            "school": data.school,
            "address": data.address,
        }
        await self.repo.insert(values)
        if household_id is not None and data.relation_to_head == HEAD:
            await self.repo.set_head(household_id, person_id)
        person = await self.repo.get(person_id)
        assert person is not None
        await self.repo.record_history(person_id, 1, person.snapshot())
        await self._publish(events.PersonRegistered, person)
        return person

    async def update(self, person_id: uuid.UUID, data: PersonUpdate) -> PersonRow:
        person = await self.repo.get(person_id, for_update=True)
        if person is None:
            raise NotFound("no such person", code="person_not_found")
        given = data.model_dump(exclude_unset=True)
        changes: dict[str, Any] = {}
        if "household_no" in given:
            no = given.pop("household_no")
            village = given.get("village_code", person.village_code)
            given["household_id"] = await self.repo.household_id(no, village) if no else None
        if "township_code" in given:
            if given["township_code"] is None:
                raise Invalid("township_code cannot be cleared", field="township_code",
                              key="cannot_clear")
            given["county_code"] = given["township_code"][:6]
        if "name" in given and not given["name"]:
            raise Invalid("name cannot be cleared", field="name", key="cannot_clear")
        if given.get("residence_permit") is None:
            given.pop("residence_permit", None)
        check_village(given.get("township_code", person.township_code),
                      given.get("village_code", person.village_code))
        for key, value in given.items():
            if getattr(person, key) != value:
                changes[key] = value
        if not changes:
            return person
        revision = await self.repo.update(person_id, changes)
        if changes.get("household_id") and given.get("relation_to_head", person.relation_to_head) == HEAD:
            await self.repo.set_head(changes["household_id"], person_id)
        elif changes.get("relation_to_head") == HEAD and person.household_id:
            await self.repo.set_head(person.household_id, person_id)
        updated = await self.repo.get(person_id)
        assert updated is not None and updated.revision == revision
        await self.repo.record_history(person_id, revision, updated.snapshot())
        await self._publish(events.PersonChanged, updated)
        return updated

    async def history(self, person_id: uuid.UUID) -> list[tuple[int, Any, dict[str, dict[str, Any]]]]:
        await self.get(person_id)
        out: list[tuple[int, Any, dict[str, dict[str, Any]]]] = []
        previous: dict[str, Any] = {}
        for revision, changed_at, snapshot in await self.repo.history(person_id):
            changes = {k: {"from": previous.get(k), "to": snapshot.get(k)}
                       for k in SNAPSHOT_FIELDS
                       if snapshot.get(k) != previous.get(k) and (previous or snapshot.get(k) is not None)}
            out.append((revision, changed_at, changes))
            previous = snapshot
        return out

    async def get(self, person_id: uuid.UUID) -> PersonRow:
        person = await self.repo.get(person_id)
        if person is None:
            raise NotFound("no such person", code="person_not_found")
        return person

    async def lookup(self, id_number: str, *, visible_to: Principal | None = None) -> PersonRow:
        """`visible_to`: find only people registered inside this caller's region; anyone
        else answers 404 as an unknown ID number does."""
        ident = parse_or_422(id_number)
        person = await self.repo.by_hash(self.vault.lookup_hashes(ident.value))
        if person is None or (visible_to is not None and not visible_to.can_see_region(
                narrowest(person.village_code, person.township_code, person.county_code))):
            raise NotFound("no person with this ID number", code="person_not_found")
        return person

    async def household(self, household_id: uuid.UUID, *, visible_to: Principal | None = None,
                        ) -> tuple[tuple[str, Any, Any], list[PersonRow]]:
        """The household and its members. `visible_to`: only the members registered inside
        this caller's region (filtered in SQL); a household none of whose members the caller
        may see answers 404 as an unknown one does."""
        household = await self.repo.household(household_id)
        prefix = visible_to.region_filter if visible_to is not None else None
        members = await self.repo.members(household_id, region_prefix=prefix) \
            if household is not None else []
        if household is None or (prefix is not None and not members):
            raise NotFound("no such household", code="household_not_found")
        return household, members

    async def village_page(self, village_code: str, name: str | None, after: uuid.UUID | None,
                           limit: int) -> tuple[list[PersonRow], bool]:
        """Up to `limit` people of the village after `after` (person id order), optionally with
        this exact name, and whether more follow."""
        rows = await self.repo.in_village(village_code, name, str(after) if after else None,
                                          limit + 1)
        return rows[:limit], len(rows) > limit

    async def record_shown(self, audit: ReadAudit, principal: Principal, read: AuditedRead,
                           resource: str, details: dict[str, Any],
                           rows: list[PersonRow]) -> None:
        """The audit entry of a read that shows people (their ids, never their data), in the
        transaction that read them."""
        await audit.record(self.session, "registration", actor=principal, action=read.action,
                           resource=resource, details={
                               "status": 200, **details, "count": len(rows),
                               "person_ids": [str(p.id) for p in rows]})

    async def full_id_number(self, person_id: uuid.UUID, principal: Principal,
                             visible: Callable[[PersonRow | None], bool], audit: ReadAudit,
                             read: AuditedRead) -> tuple[PersonRow | None, str | None]:
        """The person and, when `visible`, their ID number opened; the read (or its refusal,
        for a person the caller may not see) is in the audit log, committed before this
        returns: the caller answers 404 for the refused, and that must not lose the entry.
        So this read opens and commits its own transaction (the session must not be in one);
        an unknown person is left to the audit middleware."""
        encrypted: str | None = None
        async with self.session.begin():
            person = await self.repo.get(person_id)
            seen = visible(person)
            if person is not None:
                if seen:
                    encrypted = await self.repo.encrypted_id_number(person_id)
                await audit.record(
                    self.session, "registration", actor=principal, action=read.action,
                    resource=f"person/{person_id}", outcome="ok" if seen else "denied",
                    details={"status": 200, "person_id": str(person_id)} if seen else
                    {"status": 404, "person_id": str(person_id), "reason": "forbidden_region"})
        return person, None if encrypted is None else self.vault.decrypt(encrypted)

    async def _publish(self, event_type: type[PersonPayload], person: PersonRow) -> None:
        await self.outbox.add(self.session, events.person_event(event_type, person, self.vault),
                              subject=str(person.id))
