from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from shared.idnumber import MaskedIdNumber
from shared.text import PersonName, PlainText

CODE12 = r"^\d{12}$"


class PersonBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PersonName = Field(min_length=1, max_length=64)
    phone: str | None = Field(None, pattern=r"^\+?[0-9\-]{5,20}$")
    township_code: str = Field(pattern=CODE12, description="12-digit statistical township code")
    village_code: str | None = Field(None, pattern=CODE12)
    household_no: PlainText | None = Field(None, min_length=1, max_length=32)
    relation_to_head: PlainText | None = Field(None, max_length=16)
    hukou_region_code: str | None = Field(None, pattern=r"^\d{6}(\d{6})?$")
    residence_permit: bool = False
    school: PlainText | None = Field(None, max_length=128)
    address: PlainText | None = Field(None, max_length=200, description="地址 / address")


class PersonCreate(PersonBase):
    id_number: str = Field(min_length=15, max_length=18)


class PersonLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(min_length=15, max_length=18)


class PersonPublic(BaseModel):
    person_id: uuid.UUID
    id_number_masked: MaskedIdNumber = Field(
        description="the region and the check character only (shared.idnumber.mask_id_number)")
    name_masked: str
    birth_date: dt.date | None = Field(
        None, description="only for callers who may read this person's full ID number "
        "(GET /v1/persons/{person_id}/id-number); null for everyone else, who get birth_year: "
        "the masked number and the birth date together would leave too few candidates")
    birth_year: int
    sex: str
    county_code: str
    township_code: str | None
    village_code: str | None
    household_id: uuid.UUID | None
    revision: int


class IdNumberRead(BaseModel):
    """A person's full ID number: only from GET /v1/persons/{person_id}/id-number (audited)."""

    person_id: uuid.UUID
    id_number: str
    id_number_masked: MaskedIdNumber


class PersonUpdate(BaseModel):
    """Fields to change; absent fields stay as they are, null clears an optional one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PersonName | None = Field(None, min_length=1, max_length=64)
    phone: str | None = Field(None, pattern=r"^\+?[0-9\-]{5,20}$")
    township_code: str | None = Field(None, pattern=CODE12)
    village_code: str | None = Field(None, pattern=CODE12)
    household_no: PlainText | None = Field(None, min_length=1, max_length=32)
    relation_to_head: PlainText | None = Field(None, max_length=16)
    hukou_region_code: str | None = Field(None, pattern=r"^\d{6}(\d{6})?$")
    residence_permit: bool | None = None
    school: PlainText | None = Field(None, max_length=128)
    address: PlainText | None = Field(None, max_length=200, description="地址 / address")


class PersonDetail(PersonPublic):
    relation_to_head: str | None = None
    hukou_region_code: str | None = None
    residence_permit: bool = False
    school: str | None = None
    phone_masked: str | None = None


class PersonPage(BaseModel):
    items: list[PersonDetail]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    revision: int
    changed_at: dt.datetime
    changes: dict[str, dict[str, object]]


class HouseholdPublic(BaseModel):
    household_id: uuid.UUID
    household_no: str
    village_code: str | None
    head_person_id: uuid.UUID | None
    members: list[PersonDetail]
