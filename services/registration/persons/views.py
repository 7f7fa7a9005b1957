"""What a caller may see of a person, for every route that shows or changes one: the region
checks (a person lies in the narrowest region they are registered in) and the shown forms."""

from __future__ import annotations

from kernels.regions.codes import narrowest
from services.registration.access import RULES
from services.registration.persons.repository import PersonRow
from services.registration.persons.schemas import PersonDetail, PersonPublic
from shared.auth import Principal, authorize
from shared.errors import Forbidden, NotFound

_FULL_ID_RULE = RULES[("GET", "/v1/persons/{person_id}/id-number")]


def person_region(p: PersonRow) -> str:
    """The narrowest region the person is registered in (what region scopes are checked on)."""
    return narrowest(p.village_code, p.township_code, p.county_code) or p.county_code


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


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "*" * max(len(phone) - 7, 1) + phone[-4:] if len(phone) > 7 else "***"


def public(p: PersonRow, principal: Principal | None) -> PersonPublic:
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
        **public(p, principal).model_dump(), relation_to_head=p.relation_to_head,
        hukou_region_code=p.hukou_region_code, residence_permit=p.residence_permit,
        school=p.school, phone_masked=mask_phone(p.phone))
