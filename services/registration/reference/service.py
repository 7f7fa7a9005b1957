"""Reference data from other offices and what it reveals: who should be enrolled and is not
(应保未保), and who is insured twice (enrolled here and in the employee scheme, as an
employee-scheme enrollee or an employee pensioner). Each kind is kept per region: the region
of the upload (the uploader's own unless it names one inside it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions import load_regions
from kernels.regions.codes import InvalidRegionCode, narrowest_sql, pad_code, within_sql
from services.registration.scopes import FORBIDDEN_REGION, inside
from services.registration.uploads import (
    RowError,
    iter_reference_batches,
    parse_township_population,
)
from shared.auth import NATIONAL, region_prefix
from shared.bulk import driver_connection
from shared.idnumber import mask_id_number
from shared.pii import PiiVault

S = "registration"
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

    async def _unchanged(self, kind: str, region: str, sha256: str) -> bool:
        row = (await self.session.execute(
            text(f"SELECT content_sha256 FROM {S}.reference_uploads "
                 "WHERE kind = :k AND region_code = :r"), {"k": kind, "r": region})).first()
        return row is not None and row[0] == sha256

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
        await self.session.execute(
            text(f"DELETE FROM {S}.reference_persons WHERE kind = :k AND region_code = :r"),
            {"k": kind, "r": region})
        pg = await driver_connection(self.session)
        await pg.copy_records_to_table(
            "reference_persons", schema_name=S, records=records,
            columns=["kind", "region_code", "id_number_hash", "id_number_masked", "name",
                     "household_number", "township_code", "village_code", "active", "fields",
                     "id_number_enc"])
        await self._record(kind, region, sha256, len(records))
        return "applied", len(records), []

    async def _registered_elsewhere(self, rows_of_hash: dict[str, list[tuple[int, str]]],
                                    region: str) -> list[RowError]:
        """A row for each person of the file registered here outside `region`."""
        prefix = region_prefix(region)
        if not prefix or not rows_of_hash:
            return []
        result = await self.session.execute(text(
            f"""SELECT id_number_hash FROM {S}.persons WHERE id_number_hash = ANY(:h)
                AND NOT {within_sql(narrowest_sql(), 'p')}"""),
            {"h": list(rows_of_hash), "p": prefix})
        return [RowError(n, "身份证号", masked,
                         f"该人员不在本次上传的辖区（{region}）内登记，不能由您上传",
                         FORBIDDEN_REGION)
                for (h,) in result for n, masked in rows_of_hash[h]]

    async def _record(self, kind: str, region: str, sha256: str, rows: int) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.reference_uploads (kind, region_code, content_sha256,
                       row_count)
                     VALUES (:k, :r, :s, :n) ON CONFLICT (kind, region_code) DO UPDATE SET
                     content_sha256 = EXCLUDED.content_sha256, row_count = EXCLUDED.row_count,
                     uploaded_at = now()"""), {"k": kind, "r": region, "s": sha256, "n": rows})

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
        await self.session.execute(
            text(f"""INSERT INTO {S}.township_population (township_code, year, registered, resident)
                     VALUES (:t, :y, :r, :s) ON CONFLICT (township_code, year) DO UPDATE SET
                     registered = EXCLUDED.registered, resident = EXCLUDED.resident"""), rows)
        await self._record("township_population", county_code, parsed.content_sha256, len(rows))
        return "applied", len(rows), []

    async def missing(self, village_code: str, plan_year: int, after: str | None,
                      limit: int) -> list[Any]:
        rows = await self.session.execute(text(f"""
            SELECT DISTINCT ON (r.id_number_hash)
                   r.id_number_hash, r.id_number_masked, r.name, r.household_number,
                   r.village_code, p.id,
                   CASE WHEN p.id IS NULL THEN 'not_registered'
                        WHEN e.status IS NULL THEN 'not_enrolled'
                        ELSE 'enrollment_' || e.status END
            FROM {S}.reference_persons r
            LEFT JOIN {S}.persons p ON p.id_number_hash = r.id_number_hash
            LEFT JOIN {S}.enrollments e ON e.person_id = p.id AND e.plan_year = :y
            WHERE r.kind = 'household_register' AND r.active AND r.village_code = :v
              AND (e.status IS NULL OR e.status <> 'registered')
              AND NOT EXISTS (SELECT 1 FROM {S}.reference_persons x
                  WHERE x.kind IN ('employee_insurance', 'employee_pension') AND x.active
                    AND x.id_number_hash = r.id_number_hash)
              AND (CAST(:after AS text) IS NULL OR r.id_number_hash > :after)
            ORDER BY r.id_number_hash LIMIT :lim"""),
            {"v": village_code, "y": plan_year, "after": after, "lim": limit})
        return list(rows)

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
            population_year = (await self.session.execute(text(f"""
                SELECT max(year) FROM {S}.township_population
                WHERE township_code = ANY(:t) AND year <= :y"""),
                {"t": codes, "y": plan_year})).scalar()
        population = {r[0]: (r[1], r[2]) for r in await self.session.execute(text(f"""
            SELECT township_code, registered, resident FROM {S}.township_population
            WHERE township_code = ANY(:t) AND year = :py"""), {"t": codes, "py": population_year})}
        persons = {r[0]: r[1] for r in await self.session.execute(text(f"""
            SELECT township_code, count(*) FROM {S}.persons
            WHERE county_code = :c AND township_code = ANY(:t) GROUP BY township_code"""),
            {"c": county_code, "t": codes})}
        enrolled = {r[0]: r[1] for r in await self.session.execute(text(f"""
            SELECT township_code, count(*) FROM {S}.enrollments
            WHERE plan_year = :y AND status = 'registered' AND county_code = :c
              AND township_code = ANY(:t) GROUP BY township_code"""),
            {"y": plan_year, "c": county_code, "t": codes})}
        return population_year, [
            Coverage(t.code, t.name, *population.get(t.code, (None, None)),
                     persons.get(t.code, 0), enrolled.get(t.code, 0)) for t in townships]

    async def duplicates(self, plan_year: int, county_code: str | None, village_code: str | None,
                         after: str | None, limit: int, *,
                         region_prefix: str | None = None) -> list[Any]:
        """`region_prefix` (Principal.region_filter): only people registered in that region."""
        rows = await self.session.execute(text(f"""
            SELECT p.id, p.id_number_masked, p.name, e.village_code, e.township_code,
                   x.employer, x.kind
            FROM {S}.enrollments e JOIN {S}.persons p ON p.id = e.person_id
            JOIN LATERAL (
                SELECT r.fields ->> 'employer' AS employer, r.kind
                FROM {S}.reference_persons r
                WHERE r.kind IN ('employee_insurance', 'employee_pension') AND r.active
                  AND r.id_number_hash = p.id_number_hash
                ORDER BY r.kind, r.region_code LIMIT 1) x ON true
            WHERE e.plan_year = :y AND e.status = 'registered'
              AND (CAST(:c AS text) IS NULL OR e.county_code = :c)
              AND (CAST(:v AS text) IS NULL OR e.village_code = :v)
              AND (CAST(:rp AS text) IS NULL OR
                   {within_sql(narrowest_sql('p'))})
              AND (CAST(:after AS uuid) IS NULL OR p.id > CAST(:after AS uuid))
            ORDER BY p.id LIMIT :lim"""),
            {"y": plan_year, "c": county_code, "v": village_code, "after": after, "lim": limit,
             "rp": region_prefix})
        return list(rows)
