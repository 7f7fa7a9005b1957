"""Reference data as stored: the lists uploaded per kind and region, the township population,
and the reads that set them against the people registered and enrolled here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql, within_sql
from shared.bulk import driver_connection

S = "registration"
PERSON_COLUMNS = ["kind", "region_code", "id_number_hash", "id_number_masked", "name",
                  "household_number", "township_code", "village_code", "active", "fields",
                  "id_number_enc"]


class ReferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upload_sha256(self, kind: str, region: str) -> str | None:
        """The content hash of the list of `kind` last applied for `region`."""
        row = (await self.session.execute(
            text(f"SELECT content_sha256 FROM {S}.reference_uploads "
                 "WHERE kind = :k AND region_code = :r"), {"k": kind, "r": region})).first()
        return None if row is None else str(row[0])

    async def replace_persons(self, kind: str, region: str,
                              records: Sequence[tuple[Any, ...]]) -> None:
        """The list of `kind` for `region` replaced by `records` (PERSON_COLUMNS), by COPY."""
        await self.session.execute(
            text(f"DELETE FROM {S}.reference_persons WHERE kind = :k AND region_code = :r"),
            {"k": kind, "r": region})
        pg = await driver_connection(self.session)
        await pg.copy_records_to_table(
            "reference_persons", schema_name=S, records=records, columns=PERSON_COLUMNS)

    async def hashes_registered_outside(self, hashes: list[str], prefix: str) -> list[str]:
        """Those of `hashes` whose person is registered here outside the region `prefix`."""
        result = await self.session.execute(text(
            f"""SELECT id_number_hash FROM {S}.persons WHERE id_number_hash = ANY(:h)
                AND NOT {within_sql(narrowest_sql(), 'p')}"""),
            {"h": hashes, "p": prefix})
        return [h for (h,) in result]

    async def record_upload(self, kind: str, region: str, sha256: str, rows: int) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.reference_uploads (kind, region_code, content_sha256,
                       row_count)
                     VALUES (:k, :r, :s, :n) ON CONFLICT (kind, region_code) DO UPDATE SET
                     content_sha256 = EXCLUDED.content_sha256, row_count = EXCLUDED.row_count,
                     uploaded_at = now()"""), {"k": kind, "r": region, "s": sha256, "n": rows})

    async def upsert_population(self, rows: list[dict[str, Any]]) -> None:
        """Township population rows (t township, y year, r registered, s resident)."""
        await self.session.execute(
            text(f"""INSERT INTO {S}.township_population (township_code, year, registered, resident)
                     VALUES (:t, :y, :r, :s) ON CONFLICT (township_code, year) DO UPDATE SET
                     registered = EXCLUDED.registered, resident = EXCLUDED.resident"""), rows)

    async def missing(self, village_code: str, plan_year: int, after: str | None,
                      limit: int) -> list[Any]:
        """Active household-register people of the village not enrolled for the year and not
        in the employee scheme (应保未保), by hash."""
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

    async def population_year(self, codes: list[str], plan_year: int) -> int | None:
        """The latest statistics year up to the plan year with a figure for the townships."""
        year: int | None = (await self.session.execute(text(f"""
                SELECT max(year) FROM {S}.township_population
                WHERE township_code = ANY(:t) AND year <= :y"""),
                {"t": codes, "y": plan_year})).scalar()
        return year

    async def population(self, codes: list[str], year: int | None,
                         ) -> dict[str, tuple[int | None, int | None]]:
        """township -> (registered, resident) population of the statistics year."""
        return {r[0]: (r[1], r[2]) for r in await self.session.execute(text(f"""
            SELECT township_code, registered, resident FROM {S}.township_population
            WHERE township_code = ANY(:t) AND year = :py"""), {"t": codes, "py": year})}

    async def persons_per_township(self, county_code: str, codes: list[str]) -> dict[str, int]:
        return {r[0]: r[1] for r in await self.session.execute(text(f"""
            SELECT township_code, count(*) FROM {S}.persons
            WHERE county_code = :c AND township_code = ANY(:t) GROUP BY township_code"""),
            {"c": county_code, "t": codes})}

    async def enrolled_per_township(self, county_code: str, codes: list[str],
                                    plan_year: int) -> dict[str, int]:
        return {r[0]: r[1] for r in await self.session.execute(text(f"""
            SELECT township_code, count(*) FROM {S}.enrollments
            WHERE plan_year = :y AND status = 'registered' AND county_code = :c
              AND township_code = ANY(:t) GROUP BY township_code"""),
            {"y": plan_year, "c": county_code, "t": codes})}

    async def duplicates(self, plan_year: int, county_code: str | None, village_code: str | None,
                         after: str | None, limit: int, region_prefix: str | None) -> list[Any]:
        """People enrolled for the year who are active in the employee scheme too."""
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
