"""Where an upload applies: the region it is for (the uploader's own unless a region inside it
is named), and the registered people a file names, screened against that region.

A file naming someone registered outside the region is refused whole: each such row gets the
reason `forbidden_region` (which does not say where the person is registered), and no other
check runs on it, so that neither the answer nor the error report tells the uploader the name
registered under that ID number (a lookup answers 404 for them)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import lies_within
from services.registration.persons.repository import PersonRepository
from services.registration.uploads import RowError
from services.registration.uploads.errors import mask_id_value
from shared.auth import NATIONAL, Principal, region_prefix, require_region
from shared.errors import Invalid
from shared.pii import PiiVault

FORBIDDEN_REGION = "forbidden_region"


def normalise_region(code: str) -> str:
    """370481000000 -> 370481; other codes unchanged."""
    return code[:6] if len(code) == 12 and code.endswith("000000") else code


def upload_region(principal: Principal, given: str | None, field_name: str = "region_code") -> str:
    """The region an upload is for: `given` (inside the caller's region, else 403), else the
    caller's own region (nationwide for a system caller without a region claim)."""
    if given is not None:
        if region_prefix(given) is None:
            raise Invalid(f"{field_name} 应为6位或12位行政区划代码", field=field_name,
                          code="invalid_region_code", params={"code": given})
        require_region(principal, given)
        return normalise_region(given)
    return normalise_region(principal.region or NATIONAL)


def inside(region: str, code: str | None) -> bool:
    """True when `code` lies in `region` (a nationwide region holds every code)."""
    prefix = region_prefix(region)
    return prefix is not None and lies_within(code, prefix)


def id_rows_in(content: bytes, spec: Any, filename: str | None) -> dict[str, list[int]]:
    """The ID numbers in an upload's 身份证号 column, each with the rows naming it."""
    from services.registration.uploads.identity import normalise_id_text
    from services.registration.uploads.tables import TableReader

    reader = TableReader(content, spec, filename, allow_extra_columns=True)
    rows: dict[str, list[int]] = defaultdict(list)
    for number, values, _ in reader.rows():
        value = normalise_id_text(values.get("id_number", ""))
        if value:
            rows[value].append(number)
    reader.close()
    return dict(rows)


@dataclass
class PeopleInFile:
    region: str
    rows_of: dict[str, list[int]]
    # ID number -> (person id, registered name, narrowest region) of registered people
    found: dict[str, tuple[uuid.UUID, str, str]]
    outside: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.outside = {i for i, (_, _, r) in self.found.items() if not inside(self.region, r)}

    def name_of(self, id_number: str) -> str | None:
        """The registered name of a person of the region; None otherwise (unregistered, or
        registered elsewhere: their name is not told)."""
        hit = self.found.get(id_number)
        return hit[1] if hit and id_number not in self.outside else None

    def region_of(self, id_number: str) -> str | None:
        """The narrowest region of a registered person of the upload's region."""
        hit = self.found.get(id_number)
        return hit[2] if hit and id_number not in self.outside else None

    def person_id_of(self, id_number: str) -> uuid.UUID | None:
        hit = self.found.get(id_number)
        return hit[0] if hit and id_number not in self.outside else None

    @property
    def outside_rows(self) -> set[int]:
        return {n for i in self.outside for n in self.rows_of.get(i, [])}

    def screen(self, errors: list[RowError]) -> list[RowError]:
        """The parser's errors with the rows naming people outside the region replaced by one
        `forbidden_region` reason each."""
        blocked = self.outside_rows
        out = [e for e in errors if e.row_number not in blocked]
        out.extend(
            RowError(n, "身份证号", mask_id_value(i),
                     f"该人员不在本次上传的辖区（{self.region}）内登记，不能由您上传或修改；"
                     "请交由其登记地办理", FORBIDDEN_REGION)
            for i in self.outside for n in self.rows_of.get(i, []))
        return sorted(out, key=lambda e: (e.row_number, e.code))


async def people_in_file(session: AsyncSession, vault: PiiVault, content: bytes, spec: Any,
                         filename: str | None, region: str) -> PeopleInFile:
    """Who the file names (one query; each ID number hashed once)."""
    rows_of = id_rows_in(content, spec, filename)
    by_hash = vault.hash_index(rows_of)  # every key version: found while being rotated
    found: dict[str, tuple[uuid.UUID, str, str]] = {}
    if by_hash:
        rows = await PersonRepository(session).regions_by_hash(list(by_hash))
        found = {by_hash[h]: (person_id, name, region) for h, person_id, name, region in rows}
    return PeopleInFile(region, rows_of, found)
