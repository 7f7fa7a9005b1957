from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kernels.regions.codes import narrowest
from services.registration.common import decode_cursor, encode_cursor
from services.registration.deps import PersonServiceDep, UnitOfWorkDep
from services.registration.persons.schemas import (
    HistoryEntry,
    HouseholdPublic,
    IdNumberRead,
    PersonCreate,
    PersonDetail,
    PersonLookup,
    PersonPage,
    PersonPublic,
    PersonUpdate,
)
from services.registration.persons.views import (
    detail,
    mask_phone,
    person_or_404,
    public,
    require_person_region,
    sees_person,
)
from shared.auth import current_principal, require_region
from shared.idnumber import mask_name
from shared.service import AuditedRead, ReadAuditDep

router = APIRouter(prefix="/v1/persons", tags=["persons"])
households = APIRouter(prefix="/v1/households", tags=["households"])


# Every read of a full ID number is in the audit log, refused ones included (app.py hands this
# to the audit middleware, which records what the handler did not).
FULL_ID_READ = AuditedRead(action="person.read_full_id", resource="person/{person_id}")
# Reads that list people (names, masked numbers, regions) are audited the same way: who read
# whose personal data, a village at a time.
VILLAGE_LIST_READ = AuditedRead(action="person.list_village", resource="persons")
HOUSEHOLD_READ = AuditedRead(action="household.read", resource="household/{household_id}")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonPublic)
async def register_person(body: PersonCreate, request: Request, session: UnitOfWorkDep,
                          persons: PersonServiceDep) -> PersonPublic:
    # township staff register people of their own township only
    principal = current_principal(request)
    require_region(principal, narrowest(body.village_code, body.township_code, None) or "")
    return public(await persons.register(body), principal)


@router.post("/lookup", response_model=PersonPublic)
async def lookup_person(body: PersonLookup, request: Request, persons: PersonServiceDep) -> PersonPublic:
    """Exact lookup by ID number, sent in the body so that it never appears in a URL. Finds
    only people registered inside the caller's region: anyone else answers 404
    person_not_found, as an unknown ID number does."""
    principal = current_principal(request)
    return public(await persons.lookup(
        body.id_number, visible_to=principal), principal)


@router.get("", response_model=PersonPage)
async def list_persons(request: Request, session: UnitOfWorkDep, persons: PersonServiceDep,
                       audit: ReadAuditDep,
                       village_code: str = Query(pattern=r"^\d{12}$"),
                       name: str | None = Query(None, min_length=1, max_length=64),
                       cursor: str | None = None,
                       limit: int = Query(50, ge=1, le=500)) -> PersonPage:
    """People of one village, optionally with this exact name; pages follow `next_cursor`.
    Every page read is in the audit log (`person.list_village`, with the village and the ids of
    the people shown, never their data), refused ones included."""
    principal = current_principal(request)
    rows, more = await persons.village_page(
        village_code, name.strip() if name else None, decode_cursor(cursor, uuid.UUID), limit)
    await persons.record_shown(audit, principal, VILLAGE_LIST_READ, "persons",
                               {"village_code": village_code, "name_filter": name is not None},
                               rows)
    return PersonPage(items=[detail(p, principal) for p in rows],
                      next_cursor=encode_cursor(str(rows[-1].id)) if more else None)


@router.get("/{person_id}", response_model=PersonDetail)
async def get_person(person_id: uuid.UUID, request: Request,
                     persons: PersonServiceDep) -> PersonDetail:
    """404 person_not_found for people registered outside the caller's region too."""
    principal = current_principal(request)
    person = await persons.repo.get(person_id)
    return detail(person_or_404(principal, person), principal)


@router.patch("/{person_id}", response_model=PersonDetail)
async def change_person(person_id: uuid.UUID, body: PersonUpdate, request: Request,
                        session: UnitOfWorkDep, persons: PersonServiceDep) -> PersonDetail:
    principal = current_principal(request)
    current = await persons.repo.get(person_id, for_update=True)
    if current is not None:
        # staff change people of their own region only, and cannot move them out of it
        require_person_region(principal, current)
        given = body.model_dump(exclude_unset=True)
        if moved_to := given.get("village_code") or given.get("township_code"):
            require_region(principal, moved_to)
    return detail(await persons.update(person_id, body), principal)


@router.get("/{person_id}/id-number", response_model=IdNumberRead)
async def read_id_number(person_id: uuid.UUID, request: Request, persons: PersonServiceDep,
                         audit: ReadAuditDep) -> JSONResponse:
    """The person's full ID number, for those whose work needs it: medical insurance officers
    and administrators for people in their region, township (or village) staff for people
    registered in their own township (or village), system callers holding `pii:read`. Every
    other role is refused (403), and everyone else's output only ever shows the masked number.
    A person registered outside the caller's region answers 404 person_not_found, as every
    read of a person does.

    Every call is in the audit log as `person.read_full_id` on `person/<person_id>`, with its
    outcome (ok, denied, failed; a person outside the caller's region is `denied`, status
    404); the entry of a successful read is committed before the number is sent, and never
    contains the number itself."""
    principal = current_principal(request)
    found, number = await persons.full_id_number(
        person_id, principal, lambda p: sees_person(principal, p), audit, FULL_ID_READ)
    person = person_or_404(principal, found)  # unknown ones: the middleware records them
    assert number is not None
    body = IdNumberRead(person_id=person.id, id_number=number,
                        id_number_masked=person.id_number_masked)
    return JSONResponse(body.model_dump(mode="json"),
                        headers={"cache-control": "no-store", "pragma": "no-cache"})


def _mask_change(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "name":
        return mask_name(str(value))
    if key == "phone":
        return mask_phone(str(value))
    return value


class PersonHistory(BaseModel):
    """一个人登记信息的修改记录 (全部, 不分页) / every revision of a person's record (unpaged)."""

    items: list[HistoryEntry]


@router.get("/{person_id}/history", response_model=PersonHistory)
async def person_history(person_id: uuid.UUID, request: Request,
                         persons: PersonServiceDep) -> PersonHistory:
    """404 person_not_found for people registered outside the caller's region too."""
    person_or_404(current_principal(request), await persons.repo.get(person_id))
    entries = await persons.history(person_id)
    return PersonHistory(items=[HistoryEntry(revision=r, changed_at=at, changes={
        k: {"from": _mask_change(k, v["from"]), "to": _mask_change(k, v["to"])}
        for k, v in changes.items()}) for r, at, changes in entries])


@households.get("/{household_id}", response_model=HouseholdPublic)
async def get_household(household_id: uuid.UUID, request: Request, session: UnitOfWorkDep,
                        persons: PersonServiceDep, audit: ReadAuditDep) -> HouseholdPublic:
    """The household's members registered inside the caller's region; a household none of
    whose members the caller may see (nor, when it has none, its village) answers 404
    household_not_found, as an unknown one does. Audited as `household.read` with the ids of
    the members shown."""
    principal = current_principal(request)
    (number, head, village), members = await persons.household(household_id,
                                                                visible_to=principal)
    await persons.record_shown(audit, principal, HOUSEHOLD_READ, f"household/{household_id}",
                               {"household_id": str(household_id)}, members)
    return HouseholdPublic(household_id=household_id, household_no=number, village_code=village,
                           head_person_id=head, members=[detail(m, principal) for m in members])
