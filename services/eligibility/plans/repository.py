"""Plans as stored: the versions loaded, their publications (and the re-determination each
correction claims), and the people a correction changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

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
