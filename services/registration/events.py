"""Registration's published events: what other services may know about a person.

ID numbers never leave in the clear: events carry the opaque person id, a keyed hash for
lookup (payments' due-amount lookup) and the masked forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared import topics
from shared.idnumber import mask_id_number
from shared.pii import PiiVault

PERSON_REGISTERED = "registration.person_registered.v1"
PERSON_CHANGED = "registration.person_changed.v1"
ENROLLMENT_REGISTERED = "registration.enrollment_registered.v1"
ENROLLMENT_CHANGED = "registration.enrollment_changed.v1"
MEMBERSHIP_ADDED = "registration.group_membership_added.v1"
MEMBERSHIP_REMOVED = "registration.group_membership_removed.v1"
TARGET_SET = "registration.target_set.v1"
VILLAGE_ADDED = "registration.village_added.v1"


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def person_payload(p: Any, vault: PiiVault | None = None) -> dict[str, Any]:
    """`phone_enc`: the phone number sealed with the PII key (shared/pii.py), for the services
    that hold the key to show it to the staff who call people (reporting's reminder lists)."""
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
    }


def enrollment_payload(e: Any) -> dict[str, Any]:
    return {
        "person_id": str(e.person_id),
        "plan_year": e.plan_year,
        "status": e.status,
        "reason": e.reason,
        "insured_category": e.insured_category,
        "county_code": e.county_code,
        "township_code": e.township_code,
        "village_code": e.village_code,
        "registered_on": e.registered_on.isoformat(),
        "revision": e.revision,
    }


def membership_payload(person_id: str, m: Any, revision: int) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "group_code": m.group_code,
        "certified_on": _iso(m.certified_on),
        "ends_on": _iso(m.ends_on),
        "later_birth_on": _iso(m.later_birth_on),
        "revision": revision,
    }


TOPIC_OF = {
    PERSON_REGISTERED: topics.REGISTRATION_PERSON,
    PERSON_CHANGED: topics.REGISTRATION_PERSON,
    ENROLLMENT_REGISTERED: topics.REGISTRATION_ENROLLMENT,
    ENROLLMENT_CHANGED: topics.REGISTRATION_ENROLLMENT,
    MEMBERSHIP_ADDED: topics.REGISTRATION_GROUP_MEMBERSHIP,
    MEMBERSHIP_REMOVED: topics.REGISTRATION_GROUP_MEMBERSHIP,
    TARGET_SET: topics.REGISTRATION_TARGET,
    VILLAGE_ADDED: topics.REGISTRATION_REGION,
}
