from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, status

from services.registration.common import decode_cursor, encode_cursor
from services.registration.persons.repository import PersonRow
from services.registration.persons.schemas import (
    HistoryEntry,
    HouseholdPublic,
    PersonCreate,
    PersonDetail,
    PersonLookup,
    PersonPage,
    PersonPublic,
    PersonUpdate,
)
from services.registration.persons.service import PersonService
from shared.auth import current_principal, require_region
from shared.db import SessionDep
from shared.idnumber import mask_name
from shared.pii import vault_for

router = APIRouter(prefix="/v1/persons", tags=["persons"])
households = APIRouter(prefix="/v1/households", tags=["households"])


def _service(request: Request, session: SessionDep) -> PersonService:
    runtime = request.app.state.runtime
    return PersonService(session, runtime.outbox, vault_for(runtime.settings.pii_key))


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "*" * max(len(phone) - 7, 1) + phone[-4:] if len(phone) > 7 else "***"


def _public(p: PersonRow) -> PersonPublic:
    return PersonPublic(
        person_id=p.id, id_number_masked=p.id_number_masked, name_masked=p.name_masked,
        birth_date=p.birth_date, sex=p.sex, county_code=p.county_code,
        township_code=p.township_code, village_code=p.village_code,
        household_id=p.household_id, revision=p.revision,
    )


def detail(p: PersonRow) -> PersonDetail:
    return PersonDetail(
        **_public(p).model_dump(), relation_to_head=p.relation_to_head,
        hukou_region_code=p.hukou_region_code, residence_permit=p.residence_permit,
        school=p.school, phone_masked=mask_phone(p.phone))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonPublic)
async def register_person(body: PersonCreate, request: Request, session: SessionDep) -> PersonPublic:
    # township staff register people of their own township only
    require_region(current_principal(request), body.village_code or body.township_code)
    async with session.begin():
        person = await _service(request, session).register(body)
    return _public(person)


@router.post("/lookup", response_model=PersonPublic)
async def lookup_person(body: PersonLookup, request: Request, session: SessionDep) -> PersonPublic:
    """Exact lookup by ID number, sent in the body so that it never appears in a URL."""
    return _public(await _service(request, session).lookup(body.id_number))


@router.get("", response_model=PersonPage)
async def list_persons(request: Request, session: SessionDep,
                       village_code: str = Query(pattern=r"^\d{12}$"),
                       name: str | None = Query(None, min_length=1, max_length=64),
                       cursor: str | None = None,
                       limit: int = Query(50, ge=1, le=500)) -> PersonPage:
    """People of one village, optionally with this exact name; pages follow `next_cursor`."""
    after = decode_cursor(cursor)
    rows = await _service(request, session).repo.in_village(
        village_code, name.strip() if name else None, str(uuid.UUID(after)) if after else None,
        limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return PersonPage(items=[detail(p) for p in rows],
                      next_cursor=encode_cursor(str(rows[-1].id)) if more else None)


@router.get("/{person_id}", response_model=PersonDetail)
async def get_person(person_id: uuid.UUID, request: Request, session: SessionDep) -> PersonDetail:
    return detail(await _service(request, session).get(person_id))


@router.patch("/{person_id}", response_model=PersonDetail)
async def change_person(person_id: uuid.UUID, body: PersonUpdate, request: Request,
                        session: SessionDep) -> PersonDetail:
    async with session.begin():
        person = await _service(request, session).update(person_id, body)
    return detail(person)


def _mask_change(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "name":
        return mask_name(str(value))
    if key == "phone":
        return mask_phone(str(value))
    return value


@router.get("/{person_id}/history", response_model=list[HistoryEntry])
async def person_history(person_id: uuid.UUID, request: Request,
                         session: SessionDep) -> list[HistoryEntry]:
    entries = await _service(request, session).history(person_id)
    return [HistoryEntry(revision=r, changed_at=at, changes={
        k: {"from": _mask_change(k, v["from"]), "to": _mask_change(k, v["to"])}
        for k, v in changes.items()}) for r, at, changes in entries]


@households.get("/{household_id}", response_model=HouseholdPublic)
async def get_household(household_id: uuid.UUID, request: Request,
                        session: SessionDep) -> HouseholdPublic:
    (number, head, village), members = await _service(request, session).household(household_id)
    return HouseholdPublic(household_id=household_id, household_no=number, village_code=village,
                           head_person_id=head, members=[detail(m) for m in members])
