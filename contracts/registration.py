"""The events registration publishes: what other services may know about a person.

ID numbers and names never leave in the clear: events carry the opaque person id, a keyed hash
for lookup (`id_number_hash`, shared/pii.py) and masked forms."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from contracts.base import EventModel, RegionCode
from kernels.codes import GroupCode, InsuredCategory
from shared import topics


class PersonPayload(EventModel):
    """A person as registered (registration.person.v1, key: person_id).

    `id_number_hash` and `phone_enc` start with the version and suite of the PII key that made
    them (`v2.sm4:...`; values from before key versions have no prefix and are version 1 AES): a
    consumer stores them as they come, and lookups try the hash of every configured key version
    (`shared/pii.py`), so events published before a key rotation still find their person.
    `phone_enc` is the phone number sealed with the PII key: only services holding the key can
    open it, and they show it in full only to the staff who call people; `name_enc` and
    `address_enc` are the name and the address sealed the same way, for the same staff (the
    reminder lists), and `household_no` is the household's 户号. Keep an old key
    configured (`CANBAO_PII_PREVIOUS_KEYS`) until the topics' retention has passed after
    `canbao pii rotate`.

    `id_number_masked` is `shared.idnumber.mask_id_number`: the region and the check character
    only (consumers mask again whatever they show, so masks of the old form, which hid only the
    birth date, are never shown). `birth_date` stays on this topic because two consumers need the
    day: eligibility (age on the plan's reference day, newborns registered within their window)
    and payments (a newborn's coverage never starts before birth); reporting uses only its year
    (age bands). No read of any service gives a caller both the birth date and the masked number
    unless the caller may read the full number (registration's person reads give others
    `birth_year`); with the mask, a birth date and the sex leave 45 numbers, not one."""

    TOPIC = topics.REGISTRATION_PERSON
    KEY = "person_id"
    EXAMPLE = {
        "person_id": "0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70", "revision": 1,
        "birth_date": "1980-01-01", "sex": "male", "id_number_hash": "v1.aes:9f2c…",
        "id_number_masked": "370481***********2", "name_masked": "张*三",
        "county_code": "370481", "township_code": "370481001000",
        "village_code": "370481001001", "household_id": None, "phone_enc": "v1.aes:…",
        "name_enc": "v1.aes:…", "household_no": "370481001001023", "address_enc": None}

    person_id: uuid.UUID
    revision: int = Field(ge=1, description="grows with every change of the person")
    birth_date: dt.date
    sex: Literal["male", "female"]
    id_number_hash: str = Field(description="keyed hash of the ID number, `v<version>.<suite>:hex`")
    id_number_masked: str = Field(description="region and check character only")
    name_masked: str
    county_code: RegionCode
    township_code: RegionCode | None
    village_code: RegionCode | None
    household_id: uuid.UUID | None
    phone_enc: str | None = Field(
        None, description="the phone sealed with the PII key, or null (absent: older events)")
    name_enc: str | None = Field(
        None, description="the name sealed with the PII key, or null (absent: older events); "
                          "shown in full only to the staff who phone people (reminder lists)")
    household_no: str | None = Field(
        None, description="户号: the household's number in the household register, or null")
    address_enc: str | None = Field(
        None, description="the address (户籍地址/住址) sealed with the PII key, or null")


class PersonRegistered(PersonPayload):
    """A person was registered (one by one, or by the resident bulk import)."""

    TYPE = "registration.person_registered.v1"


class PersonChanged(PersonPayload):
    """A registered person's facts changed."""

    TYPE = "registration.person_changed.v1"


class EnrollmentPayload(EventModel):
    """A person's enrollment for one plan year (registration.enrollment.v1, key: person_id)."""

    TOPIC = topics.REGISTRATION_ENROLLMENT
    KEY = "person_id"
    EXAMPLE = {
        "person_id": "0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70", "plan_year": 2025,
        "status": "registered", "reason": None, "insured_category": "adult",
        "county_code": "370481", "township_code": "370481001000", "village_code": None,
        "registered_on": "2024-10-08", "revision": 1}

    person_id: uuid.UUID
    plan_year: int
    status: Literal["registered", "stopped", "ended"]
    reason: Literal["died", "employee_scheme", "insured_elsewhere", "moved_away", "other"] | None
    insured_category: InsuredCategory | None
    county_code: RegionCode
    township_code: RegionCode | None
    village_code: RegionCode | None
    registered_on: dt.date
    revision: int = Field(ge=1)


class EnrollmentRegistered(EnrollmentPayload):
    """A person was enrolled for a plan year (also by the yearly rollover)."""

    TYPE = "registration.enrollment_registered.v1"


class EnrollmentChanged(EnrollmentPayload):
    """An enrollment changed: stopped, ended, or its category or region."""

    TYPE = "registration.enrollment_changed.v1"


class MembershipPayload(EventModel):
    """A certified group a person holds (registration.group_membership.v1, key: person_id).
    `revision` is the person's revision (memberships bump it)."""

    TOPIC = topics.REGISTRATION_GROUP_MEMBERSHIP
    KEY = "person_id"
    EXAMPLE = {
        "person_id": "0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70",
        "group_code": "minimum_living_allowance", "certified_on": "2024-10-01",
        "ends_on": None, "later_birth_on": None, "revision": 3}

    person_id: uuid.UUID
    group_code: GroupCode
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None
    revision: int = Field(ge=1)


class GroupMembershipAdded(MembershipPayload):
    """A department certified the person in a group (or changed the certification's days)."""

    TYPE = "registration.group_membership_added.v1"


class GroupMembershipRemoved(MembershipPayload):
    """The person no longer holds the group (the days are null)."""

    TYPE = "registration.group_membership_removed.v1"


class TargetSet(EventModel):
    """A township's enrollment target for a plan year (registration.target.v1, key:
    township_code)."""

    TOPIC = topics.REGISTRATION_TARGET
    TYPE = "registration.target_set.v1"
    KEY = "township_code"
    EXAMPLE = {"plan_year": 2021, "township_code": "370481001000", "county_code": "370481",
               "target": 78000}

    plan_year: int
    township_code: RegionCode
    county_code: RegionCode
    target: int = Field(ge=0)


class VillageAdded(EventModel):
    """A village (村/社区) uploaded to registration (`POST /v1/regions/villages`), one event per
    village, so that other services show it by name (reporting's publicity and reminder lists,
    funding applications and dashboard). Provinces to townships come from the shipped division
    tree and are not published (registration.region.v1, key: the village code)."""

    TOPIC = topics.REGISTRATION_REGION
    TYPE = "registration.village_added.v1"
    KEY = "code"
    EXAMPLE = {"code": "370481001001", "township_code": "370481001000",
               "county_code": "370481", "name": "东关村"}

    code: RegionCode
    township_code: RegionCode
    county_code: RegionCode
    name: str = Field(min_length=1)


EVENTS: tuple[type[EventModel], ...] = (
    PersonRegistered, PersonChanged, EnrollmentRegistered, EnrollmentChanged,
    GroupMembershipAdded, GroupMembershipRemoved, TargetSet, VillageAdded,
)
