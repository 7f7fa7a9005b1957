"""SQL for certified name lists: versions, their entries, and the difference between two."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bulk import driver_connection

S = "registration"


@dataclass
class ListVersion:
    id: int
    department: str
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


_VERSION = ("id, department, plan_year, version_no, kind, content_sha256, filename, row_count, "
            "added, removed, changed, uploaded_at")


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

    async def lock(self, department: str, plan_year: int) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                   {"k": f"registration:list:{department}:{plan_year}"})

    async def versions(self, department: str, plan_year: int) -> list[ListVersion]:
        rows = await self.session.execute(
            text(f"SELECT {_VERSION} FROM {S}.list_versions WHERE department = :d "
                 "AND plan_year = :y ORDER BY version_no"), {"d": department, "y": plan_year})
        return [ListVersion(*r) for r in rows]

    async def new_version(self, department: str, plan_year: int, kind: str, sha256: str,
                          filename: str | None, row_count: int) -> int:
        return (await self.session.execute(
            text(f"""INSERT INTO {S}.list_versions (department, plan_year, version_no, kind,
                       content_sha256, filename, row_count, added, removed, changed)
                     SELECT :d, :y, COALESCE(max(version_no), 0) + 1, :k, :s, :f, :n, 0, 0, 0
                     FROM {S}.list_versions WHERE department = :d AND plan_year = :y
                     RETURNING id"""),
            {"d": department, "y": plan_year, "k": kind, "s": sha256, "f": filename,
             "n": row_count})).scalar_one()

    async def copy_entries(self, records: list[tuple[Any, ...]]) -> None:
        pg = await driver_connection(self.session)
        await pg.copy_records_to_table(
            "list_entries", schema_name=S, records=records,
            columns=["list_version_id", "person_id", "group_code", "certified_on", "ends_on",
                     "later_birth_on", "row_number"])

    async def diff(self, new_id: int, previous_id: int | None) -> None:
        """Fill the temporary table list_changes with what `new_id` changes."""
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
            WHERE o.list_version_id = :prev AND NOT EXISTS (
                SELECT 1 FROM {S}.list_entries n WHERE n.list_version_id = :new
                  AND n.person_id = o.person_id AND n.group_code = o.group_code)"""),
            {"new": new_id, "prev": previous_id})

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
