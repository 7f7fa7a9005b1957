from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.registration.access import RULES
from services.registration.common import decode_cursor, encode_cursor
from services.registration.persons.repository import PersonRow
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
from services.registration.persons.service import PersonService
from shared import audit
from shared.auth import Principal, authorize, current_principal, require_region
from shared.db import SessionDep
from shared.errors import Forbidden, NotFound
from shared.idnumber import mask_name
from shared.pii import vault_for
from shared.service import AuditedRead

router = APIRouter(prefix="/v1/persons", tags=["persons"])
households = APIRouter(prefix="/v1/households", tags=["households"])


# Every read of a full ID number is in the audit log, refused ones included (app.py hands this
# to the audit middleware, which records what the handler did not).
FULL_ID_READ = AuditedRead(action="person.read_full_id", resource="person/{person_id}")
# Reads that list people (names, masked numbers, regions) are audited the same way: who read
# whose personal data, a village at a time.
VILLAGE_LIST_READ = AuditedRead(action="person.list_village", resource="persons")
HOUSEHOLD_READ = AuditedRead(action="household.read", resource="household/{household_id}")
_FULL_ID_RULE = RULES[("GET", "/v1/persons/{person_id}/id-number")]


def person_region(p: PersonRow) -> str:
    """The narrowest region the person is registered in (what region scopes are checked on)."""
    return p.village_code or p.township_code or p.county_code


def require_person_region(principal: Principal, p: PersonRow) -> None:
    """Writes: 403 forbidden_region unless the person is registered inside the caller's region
    (the answer does not say where the person is registered)."""
    if not principal.can_see_region(person_region(p)):
        raise Forbidden(f"this person is registered outside your region {principal.region}",
                        code="forbidden_region")


def sees_person(principal: Principal, p: PersonRow | None) -> bool:
    return p is not None and principal.can_see_region(person_region(p))


def person_or_404(principal: Principal, p: PersonRow | None) -> PersonRow:
    """Reads: a person registered outside the caller's region answers exactly as one that does
    not exist (404 person_not_found), so that a read never confirms where, or whether, someone
    is registered."""
    if p is None or not principal.can_see_region(person_region(p)):
        raise NotFound("no such person", code="person_not_found")
    return p


def may_read_full_id(principal: Principal | None, p: PersonRow) -> bool:
    """Whether `principal` may read this person's full ID number: the rule of
    GET /v1/persons/{person_id}/id-number (its roles and scopes) and the person inside the
    caller's region. Only they see the birth date next to the masked number: the two together
    leave 45 candidate numbers (shared.idnumber.mask_id_number), everyone else gets the birth
    year."""
    if principal is None:
        return False
    try:
        authorize(principal, _FULL_ID_RULE, {}, {})
    except Forbidden:
        return False
    return sees_person(principal, p)


def _service(request: Request, session: SessionDep) -> PersonService:
    runtime = request.app.state.runtime
    return PersonService(session, runtime.outbox, vault_for(runtime.settings))


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "*" * max(len(phone) - 7, 1) + phone[-4:] if len(phone) > 7 else "***"


def _public(p: PersonRow, principal: Principal | None) -> PersonPublic:
    """What every read shows of a person to `principal`: the masked number, and the birth date
    only when they may read the full number (else the birth year)."""
    return PersonPublic(
        person_id=p.id, id_number_masked=p.id_number_masked, name_masked=p.name_masked,
        birth_date=p.birth_date if may_read_full_id(principal, p) else None,
        birth_year=p.birth_date.year, sex=p.sex, county_code=p.county_code,
        township_code=p.township_code, village_code=p.village_code,
        household_id=p.household_id, revision=p.revision,
    )


def detail(p: PersonRow, principal: Principal | None) -> PersonDetail:
    return PersonDetail(
        **_public(p, principal).model_dump(), relation_to_head=p.relation_to_head,
        hukou_region_code=p.hukou_region_code, residence_permit=p.residence_permit,
        school=p.school, phone_masked=mask_phone(p.phone))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonPublic)
async def register_person(body: PersonCreate, request: Request, session: SessionDep) -> PersonPublic:
    # township staff register people of their own township only
    principal = current_principal(request)
    require_region(principal, body.village_code or body.township_code)
    async with session.begin():
        person = await _service(request, session).register(body)
    return _public(person, principal)


@router.post("/lookup", response_model=PersonPublic)
async def lookup_person(body: PersonLookup, request: Request, session: SessionDep) -> PersonPublic:
    """Exact lookup by ID number, sent in the body so that it never appears in a URL. Finds
    only people registered inside the caller's region: anyone else answers 404
    person_not_found, as an unknown ID number does."""
    principal = current_principal(request)
    return _public(await _service(request, session).lookup(
        body.id_number, visible_to=principal), principal)


@router.get("", response_model=PersonPage)
async def list_persons(request: Request, session: SessionDep,
                       village_code: str = Query(pattern=r"^\d{12}$"),
                       name: str | None = Query(None, min_length=1, max_length=64),
                       cursor: str | None = None,
                       limit: int = Query(50, ge=1, le=500)) -> PersonPage:
    """People of one village, optionally with this exact name; pages follow `next_cursor`.
    Every page read is in the audit log (`person.list_village`, with the village and the ids of
    the people shown, never their data), refused ones included."""
    principal = current_principal(request)
    after = decode_cursor(cursor, uuid.UUID)
    async with session.begin():
        rows = await _service(request, session).repo.in_village(
            village_code, name.strip() if name else None, str(after) if after else None,
            limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        await _audit_list(request, session, principal, VILLAGE_LIST_READ, "persons",
                          {"village_code": village_code, "name_filter": name is not None},
                          rows)
    return PersonPage(items=[detail(p, principal) for p in rows],
                      next_cursor=encode_cursor(str(rows[-1].id)) if more else None)


async def _audit_list(request: Request, session: SessionDep, principal: Principal,
                      read: AuditedRead, resource: str, details: dict[str, Any],
                      rows: list[PersonRow]) -> None:
    """The audit entry of a read that shows people, in the transaction that read them."""
    await audit.record(
        session, "registration", actor=principal, action=read.action, resource=resource,
        client_ip=request.client.host if request.client else None,
        details={"status": 200, **details, "count": len(rows),
                 "person_ids": [str(p.id) for p in rows]})
    request.state.audit_recorded = True


@router.get("/{person_id}", response_model=PersonDetail)
async def get_person(person_id: uuid.UUID, request: Request, session: SessionDep) -> PersonDetail:
    """404 person_not_found for people registered outside the caller's region too."""
    principal = current_principal(request)
    person = await _service(request, session).repo.get(person_id)
    return detail(person_or_404(principal, person), principal)


@router.patch("/{person_id}", response_model=PersonDetail)
async def change_person(person_id: uuid.UUID, body: PersonUpdate, request: Request,
                        session: SessionDep) -> PersonDetail:
    principal = current_principal(request)
    async with session.begin():
        service = _service(request, session)
        current = await service.repo.get(person_id, for_update=True)
        if current is not None:
            # staff change people of their own region only, and cannot move them out of it
            require_person_region(principal, current)
            given = body.model_dump(exclude_unset=True)
            if moved_to := given.get("village_code") or given.get("township_code"):
                require_region(principal, moved_to)
        person = await service.update(person_id, body)
    return detail(person, principal)


@router.get("/{person_id}/id-number", response_model=IdNumberRead)
async def read_id_number(person_id: uuid.UUID, request: Request,
                         session: SessionDep) -> JSONResponse:
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
    service = _service(request, session)
    client_ip = request.client.host if request.client else None
    encrypted: str | None = None
    async with session.begin():
        person = await service.repo.get(person_id)
        visible = sees_person(principal, person)
        if person is not None:
            if visible:
                encrypted = await service.repo.encrypted_id_number(person_id)
            await audit.record(
                session, "registration", actor=principal, action=FULL_ID_READ.action,
                resource=f"person/{person_id}", outcome="ok" if visible else "denied",
                client_ip=client_ip,
                details={"status": 200, "person_id": str(person_id)} if visible else
                {"status": 404, "person_id": str(person_id), "reason": "forbidden_region"})
            request.state.audit_recorded = True
    person = person_or_404(principal, person)  # unknown ones: the middleware records them
    assert encrypted is not None
    body = IdNumberRead(person_id=person.id, id_number=service.vault.decrypt(encrypted),
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
                         session: SessionDep) -> PersonHistory:
    """404 person_not_found for people registered outside the caller's region too."""
    service = _service(request, session)
    person_or_404(current_principal(request), await service.repo.get(person_id))
    entries = await service.history(person_id)
    return PersonHistory(items=[HistoryEntry(revision=r, changed_at=at, changes={
        k: {"from": _mask_change(k, v["from"]), "to": _mask_change(k, v["to"])}
        for k, v in changes.items()}) for r, at, changes in entries])


@households.get("/{household_id}", response_model=HouseholdPublic)
async def get_household(household_id: uuid.UUID, request: Request,
                        session: SessionDep) -> HouseholdPublic:
    """The household's members registered inside the caller's region; a household none of
    whose members the caller may see (nor, when it has none, its village) answers 404
    household_not_found, as an unknown one does. Audited as `household.read` with the ids of
    the members shown."""
    principal = current_principal(request)
    async with session.begin():
        (number, head, village), members = await _service(request, session).household(
            household_id, visible_to=principal)
        await _audit_list(request, session, principal, HOUSEHOLD_READ,
                          f"household/{household_id}", {"household_id": str(household_id)},
                          members)
    return HouseholdPublic(household_id=household_id, household_no=number, village_code=village,
                           head_person_id=head, members=[detail(m, principal) for m in members])
