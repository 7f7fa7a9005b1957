from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from services.registration.persons.repository import PersonRow
from services.registration.persons.schemas import PersonCreate, PersonLookup, PersonPublic
from services.registration.persons.service import PersonService
from shared.db import SessionDep
from shared.pii import vault_for

router = APIRouter(prefix="/v1/persons", tags=["persons"])


def _service(request: Request, session: SessionDep) -> PersonService:
    runtime = request.app.state.runtime
    return PersonService(session, runtime.outbox, vault_for(runtime.settings.pii_key))


def _public(p: PersonRow) -> PersonPublic:
    return PersonPublic(
        person_id=p.id, id_number_masked=p.id_number_masked, name_masked=p.name_masked,
        birth_date=p.birth_date, sex=p.sex, county_code=p.county_code,
        township_code=p.township_code, village_code=p.village_code,
        household_id=p.household_id, revision=p.revision,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonPublic)
async def register_person(body: PersonCreate, request: Request, session: SessionDep) -> PersonPublic:
    async with session.begin():
        person = await _service(request, session).register(body)
    return _public(person)


@router.post("/lookup", response_model=PersonPublic)
async def lookup_person(body: PersonLookup, request: Request, session: SessionDep) -> PersonPublic:
    """Exact lookup by ID number, sent in the body so that it never appears in a URL."""
    return _public(await _service(request, session).lookup(body.id_number))


@router.get("/{person_id}", response_model=PersonPublic)
async def get_person(person_id: uuid.UUID, request: Request, session: SessionDep) -> PersonPublic:
    return _public(await _service(request, session).get(person_id))
