"""Plans as stored: the versions loaded, their publications (and the re-determination each
correction claims), and the people a correction changed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

S = "eligibility"


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def versions(self) -> Sequence[RowMapping]:
        """Every plan version ever loaded, by region, year and load time."""
        result: Any = await self.session.execute(text(
            "SELECT version, region_code, plan_year, source, loaded_at FROM eligibility.policies "
            "ORDER BY region_code, plan_year, loaded_at"))
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows

    async def claim_redetermination(self, region_code: str, plan_year: int,
                                    version: str) -> int | None:
        """Claim the re-determination of the newest publication of this version (job 0: being
        started); its id, None when another process claimed it first."""
        claimed = (await self.session.execute(text("""
            UPDATE eligibility.plan_publications SET redetermination_job = 0
            WHERE id = (SELECT max(id) FROM eligibility.plan_publications
                        WHERE region_code = :r AND plan_year = :y AND version = :v)
              AND redetermination_job IS NULL RETURNING id"""),
            {"r": region_code, "y": plan_year, "v": version})).first()
        return None if claimed is None else int(claimed[0])

    async def unclaim_redetermination(self, publication_id: int) -> None:
        await self.session.execute(text(
            "UPDATE eligibility.plan_publications SET redetermination_job = NULL "
            "WHERE id = :id"), {"id": publication_id})

    async def set_redetermination_job(self, publication_id: int, job_id: int) -> None:
        await self.session.execute(text(
            "UPDATE eligibility.plan_publications SET redetermination_job = :j "
            "WHERE id = :id"), {"j": job_id, "id": publication_id})

    async def publication(self, publication: int, region_code: str, plan_year: int) -> Any:
        """The publication (id, version, redetermination_job, published_at) and the version
        published before it for the region and year (`previous`); None when there is none."""
        row = (await self.session.execute(text(f"""
            SELECT p.id, p.version, p.redetermination_job, p.published_at,
                   (SELECT q.version FROM {S}.plan_publications q
                    WHERE q.region_code = p.region_code AND q.plan_year = p.plan_year
                      AND q.id < p.id ORDER BY q.id DESC LIMIT 1) AS previous
            FROM {S}.plan_publications p
            WHERE p.id = :id AND p.region_code = :r AND p.plan_year = :y"""),
            {"id": publication, "r": region_code, "y": plan_year})).first()
        return row

    async def redetermination_job(self, job_id: int) -> dict[str, Any] | None:
        row = (await self.session.execute(text(
            f"SELECT status, total, processed, changed, adjustments FROM {S}.redetermination_jobs"
            " WHERE id = :id"), {"id": job_id})).first()
        return dict(row._mapping) if row else None

    async def changed_people(self, plan_year: int, new_version: str,
                             old_version: str) -> Sequence[Any]:
        """The people enrolled under both versions: their newest determination under each
        (township, own contribution, subsidies) and what they paid for the year."""
        rows = (await self.session.execute(text(f"""
            WITH new AS (
                SELECT DISTINCT ON (person_id) id, person_id, personal_fen, subsidies,
                       township_code, enrolled
                FROM {S}.determinations WHERE plan_year = :y AND policy_version = :new
                ORDER BY person_id, id DESC),
            old AS (
                SELECT DISTINCT ON (d.person_id) d.person_id, d.personal_fen, d.subsidies,
                       d.enrolled
                FROM {S}.determinations d
                     JOIN new n ON n.person_id = d.person_id AND d.id < n.id
                WHERE d.plan_year = :y AND d.policy_version = :old
                ORDER BY d.person_id, d.id DESC),
            paid AS (
                SELECT person_id, sum(CASE WHEN kind = 'paid' THEN amount_fen ELSE -amount_fen END)
                       AS paid_fen
                FROM {S}.payment_entries WHERE plan_year = :y AND payer = 'person'
                GROUP BY person_id)
            SELECT n.person_id, n.township_code, o.personal_fen AS before_fen,
                   n.personal_fen AS after_fen, o.subsidies AS before_lines,
                   n.subsidies AS after_lines, coalesce(p.paid_fen, 0) AS paid_fen
            FROM new n JOIN old o USING (person_id) LEFT JOIN paid p USING (person_id)
            WHERE n.enrolled AND o.enrolled
            ORDER BY n.township_code NULLS FIRST, n.person_id"""),
            {"y": plan_year, "new": new_version, "old": old_version})).all()
        return rows


class DraftRepository:
    """Plan drafts and what a draft's publication reads of the publications before it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> Any:
        """A new draft (`values`: id, r, y, v, c, t, w, b, a, ar); the stored row."""
        return (await self.session.execute(text(f"""
            INSERT INTO {S}.plan_drafts (id, region_code, plan_year, version, content, text,
                warnings, based_on_version, status, author, author_region)
            VALUES (:id, :r, :y, :v, CAST(:c AS jsonb), :t, CAST(:w AS jsonb), :b, 'draft',
                    :a, :ar) RETURNING *"""), values)).one()

    async def get(self, draft_id: uuid.UUID, *, lock: bool = False) -> Any:
        """The draft's row (locked for the transaction with `lock`), None when there is none."""
        return (await self.session.execute(text(
            f"SELECT * FROM {S}.plan_drafts WHERE id = :id" + (" FOR UPDATE" if lock else "")),
            {"id": draft_id})).first()

    async def newest(self, region_code: str | None, plan_year: int | None) -> Sequence[Any]:
        """The newest 200 drafts, of one region and year when given."""
        return (await self.session.execute(text(f"""
            SELECT * FROM {S}.plan_drafts
            WHERE (CAST(:r AS text) IS NULL OR region_code = :r)
              AND (CAST(:y AS integer) IS NULL OR plan_year = :y)
            ORDER BY created_at DESC LIMIT 200"""), {"r": region_code, "y": plan_year})).all()

    async def approve(self, draft_id: uuid.UUID, by: str) -> Any:
        return (await self.session.execute(text(f"""
            UPDATE {S}.plan_drafts SET status = 'approved', approved_by = :by,
                approved_at = now() WHERE id = :id RETURNING *"""),
            {"by": by, "id": draft_id})).one()

    async def mark_published(self, draft_id: uuid.UUID, publication: int) -> None:
        await self.session.execute(text(f"""
            UPDATE {S}.plan_drafts SET status = 'published', publication_id = :p
            WHERE id = :id"""), {"p": publication, "id": draft_id})

    async def published_content(self, publication: int, region_code: str,
                                plan_year: int) -> Any:
        """The publication's id and its version's content, None when there is none."""
        return (await self.session.execute(text(f"""
            SELECT p.id, v.content FROM {S}.plan_publications p JOIN {S}.policies v
            USING (version) WHERE p.id = :id AND p.region_code = :r AND p.plan_year = :y"""),
            {"id": publication, "r": region_code, "y": plan_year})).first()

    async def any_publication(self, region_code: str, plan_year: int) -> bool:
        return (await self.session.execute(text(f"""
            SELECT 1 FROM {S}.plan_publications WHERE region_code = :r AND plan_year = :y
            LIMIT 1"""), {"r": region_code, "y": plan_year})).first() is not None

    async def publications(self, region_code: str, plan_year: int) -> Sequence[Any]:
        """Every publication of the region and year, oldest first, with its draft's people."""
        return (await self.session.execute(text(f"""
            SELECT p.*, d.author, d.approved_by, d.approved_at, d.created_at AS drafted_at
            FROM {S}.plan_publications p LEFT JOIN {S}.plan_drafts d ON d.id = p.draft_id
            WHERE p.region_code = :r AND p.plan_year = :y ORDER BY p.id"""),
            {"r": region_code, "y": plan_year})).all()


# --- the registry's statements (a session or a plain connection) ----------------------------

Executor = AsyncSession | AsyncConnection


async def lock_seeding(session: Executor, key: int) -> None:
    """One process seeds the registry: a lock held to the end of the transaction."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def any_publication_at_all(session: Executor) -> bool:
    return (await session.execute(
        text(f"SELECT 1 FROM {S}.plan_publications LIMIT 1"))).first() is not None


async def newest_publication_id(conn: Executor) -> int:
    """The highest publication id, 0 before the first."""
    latest: int = (await conn.execute(text(
        f"SELECT coalesce(max(id), 0) FROM {S}.plan_publications"))).scalar_one()
    return latest


async def in_force(conn: Executor, day: dt.date) -> Sequence[Any]:
    """(version, content) of the newest publication effective by `day` of each region and
    year."""
    return (await conn.execute(text(f"""
            SELECT DISTINCT ON (p.region_code, p.plan_year) p.version, v.content
            FROM {S}.plan_publications p JOIN {S}.policies v USING (version)
            WHERE p.effective_on <= :day
            ORDER BY p.region_code, p.plan_year, p.id DESC"""), {"day": day})).all()


async def insert_version(session: Executor, values: dict[str, Any]) -> bool:
    """Store a plan version (`values`: v, r, y, s, c); False when it was stored before."""
    row = (await session.execute(
        text(f"""INSERT INTO {S}.policies (version, region_code, plan_year, source, content)
                 VALUES (:v, :r, :y, CAST(:s AS jsonb), CAST(:c AS jsonb))
                 ON CONFLICT (version) DO NOTHING RETURNING version"""),
        values,
    )).first()
    return row is not None


async def insert_publication(session: Executor, values: dict[str, Any]) -> Any:
    """A publication row (`values`: r, y, v, e, c, d, f, by); its id and published_at."""
    return (await session.execute(text(f"""
        INSERT INTO {S}.plan_publications (region_code, plan_year, version, effective_on,
            correction, draft_id, republished_from, published_by)
        VALUES (:r, :y, :v, :e, :c, :d, :f, :by) RETURNING id, published_at"""), values)).one()
