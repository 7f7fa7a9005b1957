from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.registration import events
from services.registration.persons.repository import PersonRepository, PersonRow
from services.registration.persons.schemas import PersonCreate
from shared.errors import Conflict, Invalid, NotFound
from shared.idnumber import InvalidIdNumber, parse_id_number
from shared.outbox import Outbox
from shared.pii import PiiVault


def parse_or_422(id_number: str):  # noqa: ANN201 - IdNumber
    try:
        return parse_id_number(id_number)
    except InvalidIdNumber as exc:
        raise Invalid(f"id_number: {exc}", field="id_number", code="invalid_id_number") from None


class PersonService:
    def __init__(self, session: AsyncSession, outbox: Outbox, vault: PiiVault) -> None:
        self.session = session
        self.outbox = outbox
        self.vault = vault
        self.repo = PersonRepository(session)

    async def register(self, data: PersonCreate) -> PersonRow:
        ident = parse_or_422(data.id_number)
        if data.village_code and not data.village_code.startswith(data.township_code[:9]):
            raise Invalid("village_code is not in township_code", field="village_code")
        id_hash = self.vault.lookup_hash(ident.value)
        if await self.repo.by_hash(id_hash) is not None:
            raise Conflict("a person with this ID number is already registered",
                           code="person_exists")
        person_id = uuid.uuid4()
        household_id = (
            await self.repo.household_id(data.household_no, data.village_code)
            if data.household_no else None
        )
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
        }
        await self.repo.insert(values)
        person = await self.repo.get(person_id)
        assert person is not None
        await self.repo.record_history(person_id, 1, {k: v for k, v in values.items()
                                                      if k not in ("id_number_enc",)})
        await self.outbox.add(
            self.session, topic=events.TOPIC_OF[events.PERSON_REGISTERED],
            event_type=events.PERSON_REGISTERED, data=events.person_payload(person),
            key=str(person_id), subject=str(person_id),
        )
        return person

    async def get(self, person_id: uuid.UUID) -> PersonRow:
        person = await self.repo.get(person_id)
        if person is None:
            raise NotFound("no such person", code="person_not_found")
        return person

    async def lookup(self, id_number: str) -> PersonRow:
        ident = parse_or_422(id_number)
        person = await self.repo.by_hash(self.vault.lookup_hash(ident.value))
        if person is None:
            raise NotFound("no person with this ID number", code="person_not_found")
        return person
