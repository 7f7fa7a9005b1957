"""SQL for certified name lists: versions, their entries, and the difference between two."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql, within_sql
from shared.bulk import driver_connection

S = "registration"


@dataclass
class ListVersion:
    id: int
    department: str
    region_code: str
    plan_year: int
    version_no: int
    kind: str
    content_sha256: str
    filename: str | None
    row_count: int
    added: int
    removed: int
    changed: int
    uploaded_at: dt.datetime
    uploaded_by: str | None = None


_VERSION = ("id, department, region_code, plan_year, version_no, kind, content_sha256, "
            "filename, row_count, added, removed, changed, uploaded_at, uploaded_by")


@dataclass
class Change:
    kind: str  # added | changed | removed
    person_id: uuid.UUID
    group_code: str
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None


class ListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, department: str, region: str, plan_year: int) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                   {"k": f"registration:list:{department}:{region}:{plan_year}"})

    async def versions(self, department: str, region: str, plan_year: int) -> list[ListVersion]:
        rows = await self.session.execute(
            text(f"SELECT {_VERSION} FROM {S}.list_versions WHERE department = :d "
                 "AND region_code = :r AND plan_year = :y ORDER BY version_no"),
            {"d": department, "r": region, "y": plan_year})
        return [ListVersion(*r) for r in rows]

    async def new_version(self, department: str, region: str, plan_year: int, kind: str,
                          sha256: str, filename: str | None, row_count: int,
                          uploaded_by: str | None) -> int:
        return (await self.session.execute(
            text(f"""INSERT INTO {S}.list_versions (department, region_code, plan_year,
                       version_no, kind, content_sha256, filename, row_count, added, removed,
                       changed, uploaded_by)
                     SELECT :d, :r, :y, COALESCE(max(version_no), 0) + 1, :k, :s, :f, :n, 0, 0,
                            0, :by
                     FROM {S}.list_versions
                     WHERE department = :d AND region_code = :r AND plan_year = :y
                     RETURNING id"""),
            {"d": department, "r": region, "y": plan_year, "k": kind, "s": sha256,
             "f": filename, "n": row_count, "by": uploaded_by})).scalar_one()

    async def current_entries(self, version_id: int) -> list[Any]:
        """The rows of one version in file order: encrypted ID number, registered name, group,
        dates."""
        rows = await self.session.execute(text(f"""
            SELECT p.id_number_enc, p.name, e.group_code, e.certified_on, e.ends_on,
                   e.later_birth_on, e.disability_grade
            FROM {S}.list_entries e JOIN {S}.persons p ON p.id = e.person_id
            WHERE e.list_version_id = :v ORDER BY e.row_number, e.group_code"""),
            {"v": version_id})
        return list(rows)

    async def copy_entries(self, records: list[tuple[Any, ...]]) -> None:
        pg = await driver_connection(self.session)
        await pg.copy_records_to_table(
            "list_entries", schema_name=S, records=records,
            columns=["list_version_id", "person_id", "group_code", "certified_on", "ends_on",
                     "later_birth_on", "row_number", "disability_grade"])

    async def entry_keys(self, version_id: int) -> set[tuple[Any, ...]]:
        """What a version certifies: (person, group, certified, ends, later birth, grade)."""
        rows = await self.session.execute(text(
            f"SELECT person_id, group_code, certified_on, ends_on, later_birth_on, "
            f"disability_grade FROM {S}.list_entries WHERE list_version_id = :v"),
            {"v": version_id})
        return {tuple(r) for r in rows}

    async def diff(self, new_id: int, previous_id: int | None, *, department: str,
                   region: str, plan_year: int, region_prefix: str) -> None:
        """Fill the temporary table list_changes with what `new_id` changes. Only people of the
        list's region are removed (`region_prefix`: the digits their region codes start with),
        only memberships recorded for this department, and never one that the department's
        current list of another region of the same year still holds."""
        await self.session.execute(text(
            "CREATE TEMP TABLE list_changes (kind text, person_id uuid, group_code text, "
            "certified_on date, ends_on date, later_birth_on date) ON COMMIT DROP"))
        await self.session.execute(text(f"""
            INSERT INTO list_changes
            SELECT CASE WHEN o.person_id IS NULL THEN 'added' ELSE 'changed' END,
                   n.person_id, n.group_code, n.certified_on, n.ends_on, n.later_birth_on
            FROM {S}.list_entries n
            LEFT JOIN {S}.list_entries o ON o.list_version_id = :prev
                 AND o.person_id = n.person_id AND o.group_code = n.group_code
            WHERE n.list_version_id = :new
              AND (o.person_id IS NULL OR o.certified_on IS DISTINCT FROM n.certified_on
                   OR o.ends_on IS DISTINCT FROM n.ends_on
                   OR o.later_birth_on IS DISTINCT FROM n.later_birth_on)
            UNION ALL
            SELECT 'removed', o.person_id, o.group_code, NULL, NULL, NULL
            FROM {S}.list_entries o
            JOIN {S}.persons p ON p.id = o.person_id
            JOIN {S}.group_memberships g ON g.person_id = o.person_id
                 AND g.group_code = o.group_code AND g.department = :d
            WHERE o.list_version_id = :prev
              AND {within_sql(narrowest_sql('p'))}
              AND NOT EXISTS (
                SELECT 1 FROM {S}.list_entries n WHERE n.list_version_id = :new
                  AND n.person_id = o.person_id AND n.group_code = o.group_code)
              AND NOT EXISTS (
                SELECT 1 FROM {S}.list_entries x
                JOIN {S}.list_versions xv ON xv.id = x.list_version_id
                WHERE x.person_id = o.person_id AND x.group_code = o.group_code
                  AND xv.department = :d AND xv.plan_year = :y AND xv.region_code <> :r
                  AND xv.version_no = (SELECT max(v.version_no) FROM {S}.list_versions v
                      WHERE v.department = :d AND v.plan_year = :y
                        AND v.region_code = xv.region_code))"""),
            {"new": new_id, "prev": previous_id, "d": department, "r": region, "y": plan_year,
             "rp": region_prefix})

    async def apply_changes(self, department: str, version_id: int) -> list[tuple[Change, int]]:
        """Memberships updated from list_changes; each change gets its own person revision."""
        await self.session.execute(text(f"""
            INSERT INTO {S}.group_memberships AS g (person_id, group_code, certified_on, ends_on,
                   later_birth_on, department, source_list)
            SELECT person_id, group_code, certified_on, ends_on, later_birth_on, :d, :v
            FROM list_changes WHERE kind <> 'removed'
            ON CONFLICT (person_id, group_code) DO UPDATE SET
              certified_on = EXCLUDED.certified_on, ends_on = EXCLUDED.ends_on,
              later_birth_on = EXCLUDED.later_birth_on, department = EXCLUDED.department,
              source_list = EXCLUDED.source_list, updated_at = now()"""),
            {"d": department, "v": str(version_id)})
        await self.session.execute(text(f"""
            DELETE FROM {S}.group_memberships g USING list_changes c
            WHERE c.kind = 'removed' AND g.person_id = c.person_id
              AND g.group_code = c.group_code"""))
        rows = await self.session.execute(text(f"""
            WITH bumped AS (
                UPDATE {S}.persons p SET revision = p.revision + c.n, updated_at = now()
                FROM (SELECT person_id, count(*) AS n FROM list_changes GROUP BY person_id
                      ORDER BY person_id) c
                WHERE p.id = c.person_id RETURNING p.id, p.revision)
            SELECT c.kind, c.person_id, c.group_code, c.certified_on, c.ends_on,
                   c.later_birth_on,
                   b.revision - row_number() OVER (PARTITION BY c.person_id
                                                   ORDER BY c.group_code DESC) + 1
            FROM list_changes c JOIN bumped b ON b.id = c.person_id"""))
        return [(Change(*r[:6]), r[6]) for r in rows]

    async def set_counts(self, version_id: int, added: int, removed: int, changed: int) -> None:
        await self.session.execute(
            text(f"UPDATE {S}.list_versions SET added = :a, removed = :r, changed = :c "
                 "WHERE id = :id"), {"a": added, "r": removed, "c": changed, "id": version_id})
