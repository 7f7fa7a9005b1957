"""Reference data from other offices and what it reveals: who should be enrolled and is not
(应保未保), and who is insured twice (enrolled here and in the employee scheme, as an
employee-scheme enrollee or an employee pensioner). Each kind is kept per region: the region
of the upload (the uploader's own unless it names one inside it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions import load_regions
from kernels.regions.codes import InvalidRegionCode, pad_code
from services.registration.reference.repository import ReferenceRepository
from services.registration.scopes import FORBIDDEN_REGION, inside
from services.registration.uploads import (
    RowError,
    iter_reference_batches,
    parse_township_population,
)
from shared.auth import NATIONAL, region_prefix
from shared.idnumber import mask_id_number
from shared.pii import PiiVault

PERSON_KINDS = ("household_register", "employee_pension", "employee_insurance")
KINDS = (*PERSON_KINDS, "township_population")
_INACTIVE = ("死亡", "迁出", "注销", "终止", "暂停", "停保", "停止", "中断")


def is_active(kind: str, fields: dict[str, str]) -> bool:
    """Whether the row still counts: a living resident, a current employee pensioner or
    employee-scheme enrollee. Resident-scheme pensions (城乡居民) are not employee pensions."""
    status = fields.get("status", "")
    if any(word in status for word in _INACTIVE):
        return False
    if kind == "employee_pension" and "居民" in fields.get("scheme", ""):
        return False
    return True


def _code(text_value: str | None) -> str | None:
    if not text_value:
        return None
    try:
        return pad_code(text_value)
    except InvalidRegionCode:
        return None


@dataclass(frozen=True, slots=True)
class Coverage:
    township_code: str
    name: str
    population: int | None  # 户籍人口 from the statistics bureau
    resident_population: int | None  # 常住人口
    registered_persons: int  # persons registered here in the township
    enrolled_persons: int  # with a registered enrollment for the plan year


class ReferenceService:
    def __init__(self, session: AsyncSession, vault: PiiVault) -> None:
        self.session = session
        self.vault = vault
        self.repo = ReferenceRepository(session)

    async def _unchanged(self, kind: str, region: str, sha256: str) -> bool:
        return await self.repo.upload_sha256(kind, region) == sha256

    async def replace_persons(self, kind: str, content: bytes, filename: str | None, *,
                              region: str = NATIONAL) -> tuple[str, int, list[RowError]]:
        """The list of `kind` for `region` (the uploader's region) replaced by this file, or
        nothing (errors returned). Each region keeps its own list: a county's upload never
        touches another's. Rows must lie in the region: a township or village code outside it,
        or a person registered here outside it, is a `forbidden_region` row (which does not say
        where the person is registered); a household-register row of a regional upload names
        its township or village."""
        sha256 = hashlib.sha256(content).hexdigest()
        if await self._unchanged(kind, region, sha256):
            return "unchanged", 0, []
        records: list[tuple[Any, ...]] = []
        errors: list[RowError] = []
        seen: dict[str, int] = {}
        rows_of_hash: dict[str, list[tuple[int, str]]] = {}
        for batch in iter_reference_batches(kind, content, filename=filename):
            errors.extend(batch.errors)
            for r in batch.rows:
                id_hash = self.vault.lookup_hash(r.id_number)
                if id_hash in seen:
                    errors.append(RowError(r.row_number, "身份证号", mask_id_number(r.id_number),
                                           f"与第 {seen[id_hash]} 行身份证号重复", "duplicate_row"))
                    continue
                seen[id_hash] = r.row_number
                # every key version's hash: people are found while their hashes are rotated
                for any_hash in self.vault.lookup_hashes(r.id_number):
                    rows_of_hash[any_hash] = [(r.row_number, mask_id_number(r.id_number))]
                f = r.fields
                village = _code(f.get("village_code"))
                township = _code(f.get("township_code")) or (village[:9] + "000" if village else None)
                where = village or township
                if where is not None and not inside(region, where):
                    errors.append(RowError(r.row_number, "村代码" if village else "乡镇代码",
                                           where, f"不在本次上传的辖区（{region}）内",
                                           FORBIDDEN_REGION))
                    continue
                if where is None and kind == "household_register" and region != NATIONAL:
                    errors.append(RowError(r.row_number, "村代码", "",
                                           "户籍人口须填写村代码或乡镇代码", "missing_region"))
                    continue
                records.append((kind, region, id_hash, mask_id_number(r.id_number), r.name,
                                f.get("household_number"), township, village,
                                is_active(kind, f), orjson.dumps(f).decode(),
                                # sealed, so that `canbao pii rotate` can re-hash the row
                                self.vault.encrypt(r.id_number)))
        errors.extend(await self._registered_elsewhere(rows_of_hash, region))
        if errors:
            return "rejected", 0, sorted(errors, key=lambda e: (e.row_number, e.code))
        await self.repo.replace_persons(kind, region, records)
        await self._record(kind, region, sha256, len(records))
        return "applied", len(records), []

    async def _registered_elsewhere(self, rows_of_hash: dict[str, list[tuple[int, str]]],
                                    region: str) -> list[RowError]:
        """A row for each person of the file registered here outside `region`."""
        prefix = region_prefix(region)
        if not prefix or not rows_of_hash:
            return []
        outside = await self.repo.hashes_registered_outside(list(rows_of_hash), prefix)
        return [RowError(n, "身份证号", masked,
                         f"该人员不在本次上传的辖区（{region}）内登记，不能由您上传",
                         FORBIDDEN_REGION)
                for h in outside for n, masked in rows_of_hash[h]]

    async def _record(self, kind: str, region: str, sha256: str, rows: int) -> None:
        await self.repo.record_upload(kind, region, sha256, rows)

    async def replace_population(self, content: bytes, filename: str | None, county_code: str,
                                 year: int | None) -> tuple[str, int, list[RowError]]:
        parsed = parse_township_population(content, filename=filename)
        errors = list(parsed.errors)
        tree = load_regions()
        county = tree.get(county_code)
        rows = []
        for r in parsed.rows:
            region = tree.find_child(county.code, r.township_code or r.township) if county else None
            if region is None:
                errors.append(RowError(r.row_number, "乡镇", r.township_code or r.township,
                                       f"{county_code} 下没有这个乡镇（街道）", "unknown_township"))
                continue
            row_year = r.year or year
            if row_year is None:
                errors.append(RowError(r.row_number, "统计年度", "", "缺少统计年度（或在上传时填写 year）",
                                       "missing_year"))
                continue
            rows.append({"t": region.code, "y": row_year, "r": r.registered, "s": r.resident})
        if errors:
            return "rejected", 0, errors
        await self.repo.upsert_population(rows)
        await self._record("township_population", county_code, parsed.content_sha256, len(rows))
        return "applied", len(rows), []

    async def missing(self, village_code: str, plan_year: int, after: str | None,
                      limit: int) -> list[Any]:
        return await self.repo.missing(village_code, plan_year, after, limit)

    async def coverage(self, county_code: str, plan_year: int, township_code: str | None = None,
                       population_year: int | None = None) -> tuple[int | None, list[Coverage]]:
        """Per township of the county (or the one township): the statistics bureau's population
        next to the persons registered here and those enrolled for `plan_year`. The population
        is that of `population_year`, by default the latest year up to the plan year."""
        tree = load_regions()
        townships = ([tree[township_code]] if township_code
                     else tree.descendants(county_code, "township"))
        codes = [t.code for t in townships]
        if population_year is None:
            population_year = await self.repo.population_year(codes, plan_year)
        population = await self.repo.population(codes, population_year)
        persons = await self.repo.persons_per_township(county_code, codes)
        enrolled = await self.repo.enrolled_per_township(county_code, codes, plan_year)
        return population_year, [
            Coverage(t.code, t.name, *population.get(t.code, (None, None)),
                     persons.get(t.code, 0), enrolled.get(t.code, 0)) for t in townships]

    async def duplicates(self, plan_year: int, county_code: str | None, village_code: str | None,
                         after: str | None, limit: int, *,
                         region_prefix: str | None = None) -> list[Any]:
        """`region_prefix` (Principal.region_filter): only people registered in that region."""
        return await self.repo.duplicates(plan_year, county_code, village_code, after, limit,
                                          region_prefix)
