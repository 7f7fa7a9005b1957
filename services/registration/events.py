"""Registration's published events (contracts/registration.py), built from its rows.

ID numbers never leave in the clear: events carry the opaque person id, a keyed hash for
lookup (payments' due-amount lookup) and the masked forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.registration import (
    EnrollmentChanged,
    EnrollmentPayload,
    EnrollmentRegistered,
    GroupMembershipAdded,
    GroupMembershipRemoved,
    MembershipPayload,
    PersonChanged,
    PersonPayload,
    PersonRegistered,
    TargetSet,
    VillageAdded,
)
from shared.idnumber import mask_id_number
from shared.pii import PiiVault

__all__ = [
    "EnrollmentChanged", "EnrollmentRegistered", "GroupMembershipAdded",
    "GroupMembershipRemoved", "PersonChanged", "PersonRegistered", "TargetSet", "VillageAdded",
    "enrollment_event", "enrollment_payload", "membership_event", "membership_payload",
    "person_event", "person_payload",
]


def person_payload(p: Any, vault: PiiVault | None = None) -> dict[str, Any]:
    """The JSON form of PersonPayload. `phone_enc` and `name_enc`: the phone number and the name
    sealed with the PII key (shared/pii.py), for the services that hold the key to show them to
    the staff who call people (reporting's reminder lists), with the household's 户号.
    `address_enc`: the address sealed the same way."""
    return {
        "person_id": str(p.id),
        "revision": p.revision,
        "birth_date": p.birth_date.isoformat(),
        "sex": p.sex,
        "id_number_hash": p.id_number_hash,
        "id_number_masked": mask_id_number(p.id_number_masked),
        "name_masked": p.name_masked,
        "county_code": p.county_code,
        "township_code": p.township_code,
        "village_code": p.village_code,
        "household_id": str(p.household_id) if p.household_id else None,
        "phone_enc": vault.encrypt(p.phone) if vault is not None and p.phone else None,
        "name_enc": vault.encrypt(p.name) if vault is not None and p.name else None,
        "household_no": getattr(p, "household_no", None),
        "address_enc": (vault.encrypt(p.address)
                        if vault is not None and getattr(p, "address", None) else None),
    }


def person_event(event: type[PersonPayload], p: Any,
                 vault: PiiVault | None = None) -> PersonPayload:
    return event(**person_payload(p, vault))


def enrollment_payload(e: Any) -> dict[str, Any]:
    """The JSON form of EnrollmentPayload: the bulk rollover COPies these without building a
    model per row."""
    return {
        "person_id": str(e.person_id), "plan_year": e.plan_year, "status": e.status,
        "reason": e.reason, "insured_category": e.insured_category,
        "county_code": e.county_code, "township_code": e.township_code,
        "village_code": e.village_code, "registered_on": e.registered_on.isoformat(),
        "revision": e.revision,
    }


def enrollment_event(event: type[EnrollmentPayload], e: Any) -> EnrollmentPayload:
    return event(**enrollment_payload(e))


def membership_payload(person_id: Any, m: Any, revision: int) -> dict[str, Any]:
    """The JSON form of MembershipPayload (list uploads COPy these)."""
    return {"person_id": str(person_id), "group_code": m.group_code,
            "certified_on": _iso(m.certified_on), "ends_on": _iso(m.ends_on),
            "later_birth_on": _iso(m.later_birth_on), "revision": revision}


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def membership_event(event: type[MembershipPayload], person_id: Any, m: Any,
                     revision: int) -> MembershipPayload:
    return event(**membership_payload(person_id, m, revision))
